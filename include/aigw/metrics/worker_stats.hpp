#pragma once
// What one worker counts: plain integers owned by its thread, so counting costs an increment
// and no atomic or lock on the hot path. They are gathered on demand by posting to each
// worker (server::worker::read_stats) and merged; a scrape sees each worker's counters as
// of the moment its thread copied them.
#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "aigw/core/errc.hpp"

namespace aigw::proxy {
struct snapshot;
}

namespace aigw::metrics {

// Responses by status class: [0] none sent (the client left first, 499), [1..5] 1xx..5xx.
struct status_counts {
  std::array<std::uint64_t, 6> by_class{};
  void add(unsigned status) noexcept {
    auto c = status == 499 ? 0u : status / 100;
    ++by_class[c < by_class.size() ? c : 0];
  }
  std::uint64_t total() const noexcept;
};

// A Prometheus histogram over fixed upper bounds: a count per bucket (the last one: above
// every bound) and the sum of what was observed.
template <std::size_t N>
struct histogram {
  std::array<std::uint64_t, N + 1> counts{};
  double sum = 0;
  void observe(double value, const std::array<double, N>& bounds) noexcept {
    std::size_t i = 0;
    while (i < N && value > bounds[i]) ++i;
    ++counts[i];
    sum += value;
  }
  void merge(const histogram& other) noexcept {
    for (std::size_t i = 0; i <= N; ++i) counts[i] += other.counts[i];
    sum += other.sum;
  }
  std::uint64_t count() const noexcept {
    std::uint64_t n = 0;
    for (auto c : counts) n += c;
    return n;
  }
};

// The buckets of Envoy AI Gateway's GenAI metrics (OpenTelemetry's GenAI conventions).
inline constexpr std::array<double, 14> kTokenBounds = {
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864};
inline constexpr std::array<double, 14> kDurationBounds = {
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92};
inline constexpr std::array<double, 21> kTimeToFirstTokenBounds = {
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.25, 0.5, 0.75,
    1.0,   2.5,   5.0,  7.5,  10.0, 15.0, 20.0, 30.0, 45.0, 60.0};
inline constexpr std::array<double, 13> kTimePerOutputTokenBounds = {
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5};

// gen_ai.token.type
enum class token_type { input, output, cached_input, cache_creation_input, reasoning };
inline constexpr std::array<std::string_view, 5> kTokenTypeNames = {
    "input", "output", "cached_input", "cache_creation_input", "reasoning"};

// The attributes of a GenAI series (gen_ai.operation.name, gen_ai.provider.name,
// gen_ai.original.model, gen_ai.request.model, gen_ai.response.model, error.type).
struct gen_ai_labels {
  std::string operation, provider, original_model, request_model, response_model, error_type;
  auto operator<=>(const gen_ai_labels&) const = default;
};

struct gen_ai_series {
  std::array<histogram<14>, 5> tokens;  // by token_type
  histogram<14> request_duration;       // seconds
  histogram<21> time_to_first_token;    // seconds, streams
  histogram<13> time_per_output_token;  // seconds, streams
  void merge(const gen_ai_series& other) noexcept;
};

struct worker_stats {
  worker_stats() = default;
  worker_stats(std::size_t routes, std::size_t backends);

  // Requests as they ended, by the route that matched (the last entry: answered by the
  // gateway itself, no route) and by the backend slot tried last (the last entry: none).
  // Every other per-backend vector is by slot (upstream::target::slot) too.
  std::vector<status_counts> requests_by_route;
  std::vector<status_counts> requests_by_backend;
  // Errors the gateway answered itself, by errc.
  std::array<std::uint64_t, kErrcCount> local_errors{};
  // Upstream connections opened, and attempts that failed (DNS, TCP, TLS), by backend.
  std::vector<std::uint64_t> upstream_connects;
  std::vector<std::uint64_t> upstream_connect_failures;
  // Requests that a backend failed (connect, 5xx, 429, timeout) and that went on to another
  // try, by the backend that failed.
  std::vector<std::uint64_t> failovers;
  // Streams that broke mid-answer and went on at another backend, by the one that broke.
  std::vector<std::uint64_t> stream_resumes;
  // Gauges, as of the gathering: connections to each backend open (in use or idle) and idle
  // in the pool, and responses being relayed.
  std::vector<std::uint64_t> pool_open;
  std::vector<std::uint64_t> pool_idle;
  std::uint64_t active_streams = 0;
  std::uint64_t active_requests = 0;  // read and not yet answered
  // The GenAI metrics, by their attributes; and responses that should have reported token
  // usage and did not (cut, aborted, or never sent), by backend.
  std::map<gen_ai_labels, gen_ai_series> gen_ai;
  std::vector<std::uint64_t> usage_missing;
  // USD spent by the prices config, by route, backend and model label.
  struct cost_key {
    int route;
    std::size_t backend;
    std::string model;
    auto operator<=>(const cost_key&) const = default;
  };
  std::map<cost_key, double> cost_usd;
  // By client name (with `clients:`; their count is the config's): requests admitted, the
  // tokens charged, requests refused by model or by budget.
  struct client_counts {
    std::uint64_t requests = 0, input_tokens = 0, output_tokens = 0;
    std::uint64_t rejected_model = 0, rejected_requests = 0, rejected_tokens = 0;
    std::uint64_t rejected_unavailable = 0;  // Redis could not answer (fail_closed)
  };
  std::map<std::string, client_counts, std::less<>> clients;
  client_counts& client(std::string_view name) {
    auto it = clients.find(name);
    if (it == clients.end()) it = clients.emplace(std::string(name), client_counts{}).first;
    return it->second;
  }

  // The budgets' Redis (with `redis:`): commands sent, commands that got no reply (no
  // connection, no answer in time, the connection lost) or an error, admissions decided
  // without Redis by the policy (on this replica's own counters, or refused), and whether
  // this worker's connection is up (a gauge).
  struct redis_counts {
    std::uint64_t commands = 0, failures = 0, fail_open = 0, fail_closed = 0;
    std::uint64_t connected = 0;
  } redis;

  // A model name as a label: the config's names always, others until `max_models` distinct
  // ones were seen by this worker, then "other" (a client cannot blow up the series count).
  std::string model_label(std::string_view model, bool configured, std::size_t max_models);

  void record_request(int route, std::size_t backend, unsigned status) noexcept {
    requests_by_route[route < 0 ? requests_by_route.size() - 1 : static_cast<std::size_t>(route)]
        .add(status);
    requests_by_backend[backend < requests_by_backend.size() - 1 ? backend
                                                                 : requests_by_backend.size() - 1]
        .add(status);
  }
  void record_local_error(errc e) noexcept { ++local_errors[static_cast<std::size_t>(e)]; }

 private:
  std::set<std::string, std::less<>> labeled_models_;

 public:
  // Room for `routes` routes and `backends` backend slots (a reload added some); never shrinks.
  void resize(std::size_t routes, std::size_t backends);
  // Adds another worker's counters and gauges to these (growing to its sizes).
  void merge(const worker_stats& other);
  // One JSON object, backends by name (the config's slot names) and errors by their code.
  std::string to_json(const proxy::snapshot& config) const;
};

// A backend index meaning "no backend was tried" (answered locally).
inline constexpr std::size_t kNoBackend = static_cast<std::size_t>(-1);

}  // namespace aigw::metrics
