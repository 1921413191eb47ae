#pragma once
// What one worker counts: plain integers owned by its thread, so counting costs an increment
// and no atomic or lock on the hot path. They are gathered on demand by posting to each
// worker (server::worker::read_stats) and merged; a scrape sees each worker's counters as
// of the moment its thread copied them.
#include <array>
#include <cstdint>
#include <string>
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

struct worker_stats {
  worker_stats() = default;
  worker_stats(std::size_t routes, std::size_t backends);

  // Requests as they ended, by the route that matched (the last entry: answered by the
  // gateway itself, no route) and by the backend that was tried last (the last entry: none).
  std::vector<status_counts> requests_by_route;
  std::vector<status_counts> requests_by_backend;
  // Errors the gateway answered itself, by errc.
  std::array<std::uint64_t, kErrcCount> local_errors{};
  // Upstream connections opened, and attempts that failed (DNS, TCP, TLS), by backend.
  std::vector<std::uint64_t> upstream_connects;
  std::vector<std::uint64_t> upstream_connect_failures;
  // Gauges, as of the gathering: connections to each backend open (in use or idle) and idle
  // in the pool, and responses being relayed.
  std::vector<std::uint64_t> pool_open;
  std::vector<std::uint64_t> pool_idle;
  std::uint64_t active_streams = 0;

  void record_request(int route, std::size_t backend, unsigned status) noexcept {
    requests_by_route[route < 0 ? requests_by_route.size() - 1 : static_cast<std::size_t>(route)]
        .add(status);
    requests_by_backend[backend < requests_by_backend.size() - 1 ? backend
                                                                 : requests_by_backend.size() - 1]
        .add(status);
  }
  void record_local_error(errc e) noexcept { ++local_errors[static_cast<std::size_t>(e)]; }

  // Adds another worker's counters and gauges to these (same config snapshot).
  void merge(const worker_stats& other);
  // One JSON object, backends by name and errors by their OpenAI code.
  std::string to_json(const proxy::snapshot& config) const;
};

// A backend index meaning "no backend was tried" (answered locally).
inline constexpr std::size_t kNoBackend = static_cast<std::size_t>(-1);

}  // namespace aigw::metrics
