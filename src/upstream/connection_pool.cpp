#include "aigw/upstream/connection_pool.hpp"

namespace aigw::upstream {

connection_pool::connection_pool(std::size_t backend_count, deadline_sweeper& sweeper,
                                 std::size_t max_idle_per_backend,
                                 std::chrono::seconds max_idle_time)
    : sweeper_(sweeper),
      idle_(backend_count),
      max_idle_per_backend_(max_idle_per_backend),
      max_idle_time_(max_idle_time) {}

std::unique_ptr<connection> connection_pool::take(std::size_t backend) {
  auto& idle = idle_[backend];
  auto now = std::chrono::steady_clock::now();
  while (!idle.empty()) {
    auto c = std::move(idle.back());
    idle.pop_back();
    // No liveness probe here (it would cost a syscall per request): a connection the backend
    // closed while idle fails before any response byte, and the exchange retries it once.
    if (now - c->idle_since < max_idle_time_) {
      c->reused = true;
      return c;
    }
  }
  return nullptr;
}

void connection_pool::put(std::size_t backend, std::unique_ptr<connection> c) {
  auto& idle = idle_[backend];
  if (idle.size() >= max_idle_per_backend_) idle.erase(idle.begin());  // drop the oldest
  c->idle_since = std::chrono::steady_clock::now();
  c->deadline().expires_never();
  idle.push_back(std::move(c));
}

}  // namespace aigw::upstream
