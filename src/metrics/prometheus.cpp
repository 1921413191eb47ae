#include "aigw/metrics/prometheus.hpp"

#include <iterator>

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
  void sample(std::string_view name, std::string_view labels, std::uint64_t value) {
    fmt::format_to(out(), "{}{}{}{} {}\n", name, labels.empty() ? "" : "{", labels,
                   labels.empty() ? "" : "}", value);
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
  auto backend_label = [&](std::size_t i) { return label_value(targets[i].name); };

  w.family("aigw_route_requests_total", "counter",
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
  for (std::size_t b = 0; b < stats.requests_by_backend.size(); ++b) {
    auto name = b + 1 == stats.requests_by_backend.size() ? std::string("-") : backend_label(b);
    for (std::size_t c = 0; c < 6; ++c)
      if (auto n = stats.requests_by_backend[b].by_class[c])
        w.sample("aigw_backend_requests_total",
                 fmt::format("backend=\"{}\",status_class=\"{}\"", name, kStatusClasses[c]), n);
  }
  w.family("aigw_local_errors_total", "counter",
           "Errors the gateway answered itself, by their OpenAI error code.");
  for (std::size_t e = 1; e < stats.local_errors.size(); ++e)
    if (auto n = stats.local_errors[e])
      w.sample("aigw_local_errors_total",
               fmt::format("code=\"{}\",reason=\"{}\"", openai_code(static_cast<errc>(e)),
                           proxy_status_token(static_cast<errc>(e))),
               n);
  w.family("aigw_upstream_connects_total", "counter", "Upstream connections opened, by backend.");
  for (std::size_t b = 0; b < stats.upstream_connects.size(); ++b)
    w.sample("aigw_upstream_connects_total", fmt::format("backend=\"{}\"", backend_label(b)),
             stats.upstream_connects[b]);
  w.family("aigw_upstream_connect_failures_total", "counter",
           "Upstream connection attempts that failed (DNS, TCP, TLS), by backend.");
  for (std::size_t b = 0; b < stats.upstream_connect_failures.size(); ++b)
    w.sample("aigw_upstream_connect_failures_total", fmt::format("backend=\"{}\"", backend_label(b)),
             stats.upstream_connect_failures[b]);
  w.family("aigw_pool_connections_open", "gauge",
           "Upstream connections open (in use or idle), by backend.");
  for (std::size_t b = 0; b < stats.pool_open.size(); ++b)
    w.sample("aigw_pool_connections_open", fmt::format("backend=\"{}\"", backend_label(b)),
             stats.pool_open[b]);
  w.family("aigw_pool_connections_idle", "gauge", "Idle upstream connections kept, by backend.");
  for (std::size_t b = 0; b < stats.pool_idle.size(); ++b)
    w.sample("aigw_pool_connections_idle", fmt::format("backend=\"{}\"", backend_label(b)),
             stats.pool_idle[b]);
  w.family("aigw_active_streams", "gauge", "Responses being relayed now.");
  w.sample("aigw_active_streams", "", stats.active_streams);
  w.family("aigw_build_info", "gauge", "The gateway's version.");
  w.sample("aigw_build_info", fmt::format("version=\"{}\"", AIGW_VERSION), 1);
  return w.take();
}

}  // namespace aigw::metrics
