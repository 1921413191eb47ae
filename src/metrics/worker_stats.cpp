#include "aigw/metrics/worker_stats.hpp"

#include <numeric>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "aigw/proxy/snapshot.hpp"

namespace aigw::metrics {
namespace {

void add_into(std::vector<std::uint64_t>& to, const std::vector<std::uint64_t>& from) {
  if (to.size() < from.size()) to.resize(from.size());
  for (std::size_t i = 0; i < from.size(); ++i) to[i] += from[i];
}

// A vector whose last entry stands for "none" (answered locally, no backend), grown to hold
// `n` other entries, the last one moved to the new end.
void grow_keeping_last(std::vector<status_counts>& v, std::size_t n) {
  if (v.size() >= n + 1) return;
  auto last = v.empty() ? status_counts{} : v.back();
  if (!v.empty()) v.back() = {};
  v.resize(n + 1);
  v.back() = last;
}

void add_keeping_last(std::vector<status_counts>& to, const std::vector<status_counts>& from) {
  if (from.empty()) return;
  grow_keeping_last(to, from.size() - 1);
  for (std::size_t i = 0; i + 1 < from.size(); ++i)
    for (std::size_t c = 0; c < 6; ++c) to[i].by_class[c] += from[i].by_class[c];
  for (std::size_t c = 0; c < 6; ++c) to.back().by_class[c] += from.back().by_class[c];
}

boost::json::object classes(const status_counts& c) {
  static constexpr const char* kNames[] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};
  boost::json::object out;
  for (std::size_t i = 0; i < c.by_class.size(); ++i)
    if (c.by_class[i] > 0) out[kNames[i]] = c.by_class[i];
  return out;
}

}  // namespace

std::uint64_t status_counts::total() const noexcept {
  return std::accumulate(by_class.begin(), by_class.end(), std::uint64_t{0});
}

worker_stats::worker_stats(std::size_t routes, std::size_t backends)
    : requests_by_route(routes + 1),
      requests_by_backend(backends + 1),
      upstream_connects(backends),
      upstream_connect_failures(backends),
      failovers(backends),
      stream_resumes(backends),
      pool_open(backends),
      pool_idle(backends),
      usage_missing(backends) {}

void gen_ai_series::merge(const gen_ai_series& other) noexcept {
  for (std::size_t t = 0; t < tokens.size(); ++t) tokens[t].merge(other.tokens[t]);
  request_duration.merge(other.request_duration);
  time_to_first_token.merge(other.time_to_first_token);
  time_per_output_token.merge(other.time_per_output_token);
}

std::string worker_stats::model_label(std::string_view model, bool configured,
                                      std::size_t max_models) {
  if (configured || labeled_models_.contains(model)) return std::string(model);
  if (labeled_models_.size() >= max_models) return "other";
  labeled_models_.emplace(model);
  return std::string(model);
}

void worker_stats::resize(std::size_t routes, std::size_t backends) {
  grow_keeping_last(requests_by_route, routes);
  grow_keeping_last(requests_by_backend, backends);
  for (auto* v : {&upstream_connects, &upstream_connect_failures, &failovers, &stream_resumes,
                  &pool_open, &pool_idle, &usage_missing})
    if (v->size() < backends) v->resize(backends);
}

void worker_stats::merge(const worker_stats& other) {
  add_keeping_last(requests_by_route, other.requests_by_route);
  add_keeping_last(requests_by_backend, other.requests_by_backend);
  for (std::size_t i = 0; i < local_errors.size(); ++i) local_errors[i] += other.local_errors[i];
  add_into(upstream_connects, other.upstream_connects);
  add_into(upstream_connect_failures, other.upstream_connect_failures);
  add_into(failovers, other.failovers);
  add_into(stream_resumes, other.stream_resumes);
  add_into(pool_open, other.pool_open);
  add_into(pool_idle, other.pool_idle);
  active_streams += other.active_streams;
  active_requests += other.active_requests;
  add_into(usage_missing, other.usage_missing);
  for (const auto& [labels, series] : other.gen_ai) gen_ai[labels].merge(series);
  for (const auto& [key, usd] : other.cost_usd) cost_usd[key] += usd;
  for (const auto& [name, c] : other.clients) {
    auto& mine = client(name);
    mine.requests += c.requests;
    mine.input_tokens += c.input_tokens;
    mine.output_tokens += c.output_tokens;
    mine.rejected_model += c.rejected_model;
    mine.rejected_requests += c.rejected_requests;
    mine.rejected_tokens += c.rejected_tokens;
    mine.rejected_unavailable += c.rejected_unavailable;
  }
  redis.commands += other.redis.commands;
  redis.failures += other.redis.failures;
  redis.fail_open += other.redis.fail_open;
  redis.fail_closed += other.redis.fail_closed;
  redis.connected += other.redis.connected;
}

std::string worker_stats::to_json(const proxy::snapshot& config) const {
  boost::json::object routes;
  for (std::size_t i = 0; i < requests_by_route.size(); ++i) {
    if (requests_by_route[i].total() == 0) continue;
    auto name = i + 1 == requests_by_route.size() ? std::string("local") : std::to_string(i);
    routes[name] = classes(requests_by_route[i]);
  }
  boost::json::object backends;
  for (std::size_t i = 0; i < requests_by_backend.size(); ++i) {
    bool none = i + 1 == requests_by_backend.size();
    if (none && requests_by_backend[i].total() == 0) continue;
    boost::json::object b;
    b["requests"] = classes(requests_by_backend[i]);
    if (!none) {
      b["connects"] = upstream_connects[i];
      b["connect_failures"] = upstream_connect_failures[i];
      b["failovers"] = failovers[i];
      b["pool_open"] = pool_open[i];
      b["pool_idle"] = pool_idle[i];
    }
    backends[none                           ? std::string("-")
             : i < config.slot_names.size() ? config.slot_names[i]
                                            : std::string("?")] = std::move(b);
  }
  boost::json::object errors;
  for (std::size_t i = 1; i < local_errors.size(); ++i)
    if (local_errors[i] > 0) {
      auto code = openai_code(static_cast<errc>(i));
      // Two errc share "overloaded": count them together under their code.
      auto& slot = errors[code];
      slot = (slot.is_uint64() ? slot.as_uint64() : 0) + local_errors[i];
    }
  boost::json::object out;
  out["requests_by_route"] = std::move(routes);
  out["backends"] = std::move(backends);
  out["local_errors"] = std::move(errors);
  out["active_streams"] = active_streams;
  return boost::json::serialize(out);
}

}  // namespace aigw::metrics
