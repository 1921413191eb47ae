#include "aigw/upstream/connection_pool.hpp"

#include <algorithm>

namespace aigw::upstream {

connection_pool::connection_pool(std::size_t backend_count, deadline_sweeper& sweeper,
                                 std::size_t max_idle_per_backend,
                                 std::chrono::seconds max_idle_time)
    : sweeper_(sweeper),
      open_(std::make_shared<std::vector<std::uint64_t>>(backend_count)),
      idle_(backend_count),
      max_idle_per_backend_(max_idle_per_backend),
      max_idle_time_(max_idle_time) {}

std::unique_ptr<connection> connection_pool::take(std::size_t backend) {
  auto& idle = idle_[backend];
  // Oldest first in the list: drop those idle too long, then hand out the most recent.
  auto now = std::chrono::steady_clock::now();
  auto fresh = std::find_if(idle.begin(), idle.end(),
                            [&](const auto& c) { return now - c->idle_since < max_idle_time_; });
  idle.erase(idle.begin(), fresh);
  if (idle.empty()) return nullptr;
  // No liveness probe here (it would cost a syscall per request): a connection the backend
  // closed while idle fails before any response byte, and the exchange retries once.
  auto c = std::move(idle.back());
  idle.pop_back();
  c->stop_watching();
  c->reused = true;
  return c;
}

void connection_pool::put(std::size_t backend, std::unique_ptr<connection> c) {
  if (c->has_unread_bytes()) return;  // out of step with the backend: closed
  auto& idle = idle_[backend];
  if (idle.size() >= max_idle_per_backend_) idle.erase(idle.begin());  // drop the oldest
  c->idle_since = std::chrono::steady_clock::now();
  c->deadline().expires_never();
  auto* watched = c.get();
  idle.push_back(std::move(c));
  watched->watch_idle([this, backend, watched] { drop(backend, watched); });
}

void connection_pool::drop(std::size_t backend, const connection* c) {
  auto& idle = idle_[backend];
  auto it = std::find_if(idle.begin(), idle.end(), [&](const auto& p) { return p.get() == c; });
  if (it != idle.end()) idle.erase(it);
}

}  // namespace aigw::upstream
