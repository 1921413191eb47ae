#include "aigw/metrics/prometheus.hpp"

#include <iterator>
#include <map>

#include <fmt/format.h>

#include "aigw/proxy/snapshot.hpp"

namespace aigw::metrics {
namespace {

constexpr const char* kStatusClasses[] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};

// A label value as the exposition format wants it: backslash, quote and newline escaped.
std::string label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out.append("\\n");
      continue;
    }
    out.push_back(c);
  }
  return out;
}

class writer {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(out(), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  void sample_value(std::string_view name, std::string_view labels, double value) {
    fmt::format_to(out(), "{}{{{}}} {}\n", name, labels, value);
  }
  void sample(std::string_view name, std::string_view labels, std::uint64_t value) {
    fmt::format_to(out(), "{}{}{}{} {}\n", name, labels.empty() ? "" : "{", labels,
                   labels.empty() ? "" : "}", value);
  }
  // The _bucket, _sum and _count lines of one histogram series (none when it is empty).
  template <std::size_t N>
  void histogram_series(std::string_view name, std::string_view labels, const histogram<N>& h,
                        const std::array<double, N>& bounds) {
    auto count = h.count();
    if (count == 0) return;
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= N; ++i) {
      cumulative += h.counts[i];
      if (i < N)
        fmt::format_to(out(), "{}_bucket{{{},le=\"{}\"}} {}\n", name, labels, bounds[i],
                       cumulative);
      else
        fmt::format_to(out(), "{}_bucket{{{},le=\"+Inf\"}} {}\n", name, labels, cumulative);
    }
    fmt::format_to(out(), "{}_sum{{{}}} {}\n{}_count{{{}}} {}\n", name, labels, h.sum, name, labels,
                   count);
  }
  std::string take() { return std::move(text_); }

 private:
  std::back_insert_iterator<std::string> out() { return std::back_inserter(text_); }
  std::string text_;
};

}  // namespace

std::string render_prometheus(const worker_stats& stats, const proxy::snapshot& config) {
  writer w;
  const auto& targets = config.targets;
  // Per-worker counters are by backend slot; health is read from the config's backends.
  auto backend_label = [&](std::size_t slot) {
    return slot < config.slot_names.size() ? label_value(config.slot_names[slot])
                                           : std::string("?");
  };
  auto target_label = [&](std::size_t i) { return label_value(targets[i].name); };

  w.family(
      "aigw_route_requests_total", "counter",
      "Requests by the route that matched (\"local\": answered by the gateway) and status class.");
  for (std::size_t r = 0; r < stats.requests_by_route.size(); ++r) {
    auto route = r + 1 == stats.requests_by_route.size() ? std::string("local") : std::to_string(r);
    for (std::size_t c = 0; c < 6; ++c)
      if (auto n = stats.requests_by_route[r].by_class[c])
        w.sample("aigw_route_requests_total",
                 fmt::format("route=\"{}\",status_class=\"{}\"", route, kStatusClasses[c]), n);
  }
  w.family("aigw_backend_requests_total", "counter",
           "Requests by the backend tried last (\"-\": none) and status class.");
  // Slots that share a name (a backend a reload changed keeps its name, not its slot) are
  // one series: a label set appears once.
  std::map<std::string, status_counts> by_backend;
  for (std::size_t b = 0; b < stats.requests_by_backend.size(); ++b) {
    auto& counts =
        by_backend[b + 1 == stats.requests_by_backend.size() ? std::string("-") : backend_label(b)];
    for (std::size_t c = 0; c < 6; ++c)
      counts.by_class[c] += stats.requests_by_backend[b].by_class[c];
  }
  for (const auto& [name, counts] : by_backend)
    for (std::size_t c = 0; c < 6; ++c)
      if (auto n = counts.by_class[c])
        w.sample("aigw_backend_requests_total",
                 fmt::format("backend=\"{}\",status_class=\"{}\"", name, kStatusClasses[c]), n);
  w.family("aigw_local_errors_total", "counter",
           "Errors the gateway answered itself, by their OpenAI error code.");
  for (std::size_t e = 1; e < stats.local_errors.size(); ++e)
    if (auto n = stats.local_errors[e])
      w.sample("aigw_local_errors_total",
               fmt::format("code=\"{}\",reason=\"{}\"", openai_code(static_cast<errc>(e)),
                           proxy_status_token(static_cast<errc>(e))),
               n);
  // A family with one sample per backend.
  auto per_backend = [&](std::string_view name, std::string_view type, std::string_view help,
                         const std::vector<std::uint64_t>& values) {
    w.family(name, type, help);
    std::map<std::string, std::uint64_t> by_name;
    for (std::size_t b = 0; b < values.size(); ++b) by_name[backend_label(b)] += values[b];
    for (const auto& [backend, value] : by_name)
      w.sample(name, fmt::format("backend=\"{}\"", backend), value);
  };
  per_backend("aigw_upstream_connects_total", "counter", "Upstream connections opened, by backend.",
              stats.upstream_connects);
  per_backend("aigw_upstream_connect_failures_total", "counter",
              "Upstream connection attempts that failed (DNS, TCP, TLS), by backend.",
              stats.upstream_connect_failures);
  per_backend("aigw_upstream_failovers_total", "counter",
              "Tries that failed (connect, 5xx, 429, timeout) and went on to another, by the "
              "backend that failed.",
              stats.failovers);
  per_backend("aigw_stream_resumes_total", "counter",
              "Streams that broke mid-answer and went on at another backend (resume: true), by "
              "the backend that broke.",
              stats.stream_resumes);
  // Health is shared by the workers: read from the config's backends, not gathered.
  w.family("aigw_backend_circuit_state", "gauge",
           "Circuit breaker state by backend: 0 closed, 1 open, 2 half-open.");
  for (std::size_t b = 0; b < targets.size(); ++b)
    w.sample("aigw_backend_circuit_state", fmt::format("backend=\"{}\"", target_label(b)),
             static_cast<std::uint64_t>(targets[b].health->current_state()));
  w.family("aigw_backend_circuit_transitions_total", "counter",
           "Circuit breaker transitions by backend and the state entered.");
  for (std::size_t b = 0; b < targets.size(); ++b) {
    using state = upstream::backend_health::state;
    for (auto [to, name] :
         {std::pair{state::open, "open"}, std::pair{state::half_open, "half_open"},
          std::pair{state::closed, "closed"}})
      w.sample("aigw_backend_circuit_transitions_total",
               fmt::format("backend=\"{}\",to=\"{}\"", target_label(b), name),
               targets[b].health->transitions(to));
  }
  w.family("aigw_backend_backoffs_total", "counter",
           "429 answers that took a backend out of rotation (Retry-After), by backend.");
  for (std::size_t b = 0; b < targets.size(); ++b)
    w.sample("aigw_backend_backoffs_total", fmt::format("backend=\"{}\"", target_label(b)),
             targets[b].health->backoffs());
  per_backend("aigw_pool_connections_open", "gauge",
              "Upstream connections open (in use or idle), by backend.", stats.pool_open);
  per_backend("aigw_pool_connections_idle", "gauge", "Idle upstream connections kept, by backend.",
              stats.pool_idle);
  w.family("aigw_active_streams", "gauge", "Responses being relayed now.");
  w.sample("aigw_active_streams", "", stats.active_streams);
  w.family("aigw_active_requests", "gauge", "Requests read and not yet answered.");
  w.sample("aigw_active_requests", "", stats.active_requests);
  per_backend("aigw_usage_missing_total", "counter",
              "Responses that should have reported token usage and did not (cut, aborted, or "
              "never sent), by backend: counted as missing, never as zero tokens.",
              stats.usage_missing);
  w.family("aigw_cost_usd_total", "counter",
           "USD spent, by the prices config, by route, backend and model sent upstream.");
  std::map<std::string, double> cost;
  for (const auto& [key, usd] : stats.cost_usd)
    cost[fmt::format("route=\"{}\",backend=\"{}\",model=\"{}\"",
                     key.route < 0 ? std::string("local") : std::to_string(key.route),
                     backend_label(key.backend), label_value(key.model))] += usd;
  for (const auto& [labels, usd] : cost) w.sample_value("aigw_cost_usd_total", labels, usd);

  w.family("aigw_client_requests_total", "counter", "Requests admitted, by client.");
  for (const auto& [name, c] : stats.clients)
    w.sample("aigw_client_requests_total", fmt::format("client=\"{}\"", label_value(name)),
             c.requests);
  w.family("aigw_client_tokens_total", "counter",
           "Tokens charged to each client's budget, by client and type (input, output).");
  for (const auto& [name, c] : stats.clients) {
    w.sample("aigw_client_tokens_total",
             fmt::format("client=\"{}\",type=\"input\"", label_value(name)), c.input_tokens);
    w.sample("aigw_client_tokens_total",
             fmt::format("client=\"{}\",type=\"output\"", label_value(name)), c.output_tokens);
  }
  w.family("aigw_client_rejections_total", "counter",
           "Requests refused, by client and reason (model: not allowed; requests, tokens: over "
           "the budget; unavailable: Redis could not answer, with on_redis_error: fail_closed).");
  for (const auto& [name, c] : stats.clients)
    for (auto [reason, n] : {std::pair<const char*, std::uint64_t>{"model", c.rejected_model},
                             {"requests", c.rejected_requests},
                             {"tokens", c.rejected_tokens},
                             {"unavailable", c.rejected_unavailable}})
      w.sample("aigw_client_rejections_total",
               fmt::format("client=\"{}\",reason=\"{}\"", label_value(name), reason), n);
  if (config.config.redis.enabled()) {
    w.family("aigw_redis_connected", "gauge",
             "Workers whose connection to the budgets' Redis is up (one connection each).");
    w.sample("aigw_redis_connected", "", stats.redis.connected);
    w.family("aigw_redis_commands_total", "counter", "Commands sent to the budgets' Redis.");
    w.sample("aigw_redis_commands_total", "", stats.redis.commands);
    w.family("aigw_redis_errors_total", "counter",
             "Redis commands that failed: no connection, no answer in time, the connection "
             "lost, or an error reply.");
    w.sample("aigw_redis_errors_total", "", stats.redis.failures);
    w.family("aigw_redis_fallbacks_total", "counter",
             "Admissions decided without Redis, by on_redis_error (fail_open: by this "
             "replica's own counters; fail_closed: refused).");
    w.sample("aigw_redis_fallbacks_total", "policy=\"fail_open\"", stats.redis.fail_open);
    w.sample("aigw_redis_fallbacks_total", "policy=\"fail_closed\"", stats.redis.fail_closed);
  }

  // The GenAI metrics, named as Envoy AI Gateway names them (OpenTelemetry's GenAI semantic
  // conventions, dots as underscores).
  auto attributes = [](const gen_ai_labels& l) {
    auto out = fmt::format(
        "gen_ai_operation_name=\"{}\",gen_ai_provider_name=\"{}\",gen_ai_original_model=\"{}\","
        "gen_ai_request_model=\"{}\",gen_ai_response_model=\"{}\"",
        label_value(l.operation), label_value(l.provider), label_value(l.original_model),
        label_value(l.request_model), label_value(l.response_model));
    if (!l.error_type.empty())
      fmt::format_to(std::back_inserter(out), ",error_type=\"{}\"", label_value(l.error_type));
    return out;
  };
  w.family("gen_ai_client_token_usage", "histogram", "Tokens used, by gen_ai.token.type.");
  for (const auto& [labels, series] : stats.gen_ai)
    for (std::size_t t = 0; t < series.tokens.size(); ++t)
      w.histogram_series(
          "gen_ai_client_token_usage",
          fmt::format("{},gen_ai_token_type=\"{}\"", attributes(labels), kTokenTypeNames[t]),
          series.tokens[t], kTokenBounds);
  w.family("gen_ai_server_request_duration", "histogram",
           "Seconds from the request's arrival to the end of its response.");
  for (const auto& [labels, series] : stats.gen_ai)
    w.histogram_series("gen_ai_server_request_duration", attributes(labels),
                       series.request_duration, kDurationBounds);
  w.family("gen_ai_server_time_to_first_token", "histogram",
           "Seconds from a streamed request's arrival to its first response bytes.");
  for (const auto& [labels, series] : stats.gen_ai)
    w.histogram_series("gen_ai_server_time_to_first_token", attributes(labels),
                       series.time_to_first_token, kTimeToFirstTokenBounds);
  w.family("gen_ai_server_time_per_output_token", "histogram",
           "Seconds per output token after the first, for streamed responses.");
  for (const auto& [labels, series] : stats.gen_ai)
    w.histogram_series("gen_ai_server_time_per_output_token", attributes(labels),
                       series.time_per_output_token, kTimePerOutputTokenBounds);
  w.family("aigw_build_info", "gauge", "The gateway's version.");
  w.sample("aigw_build_info", fmt::format("version=\"{}\"", AIGW_VERSION), 1);
  return w.take();
}

}  // namespace aigw::metrics
