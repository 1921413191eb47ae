#pragma once
// Idle keep-alive connections of one worker, per backend. Single-threaded by design: each
// worker owns its pool, so there are no locks on the hot path.
#include <cstddef>
#include <memory>
#include <vector>

#include "aigw/upstream/connection.hpp"

namespace aigw::upstream {

class connection_pool {
 public:
  connection_pool(std::size_t backend_count, deadline_sweeper& sweeper,
                  std::size_t max_idle_per_backend = 128,
                  std::chrono::seconds max_idle_time = std::chrono::seconds(60));

  // A new, unconnected connection to `t` whose deadline this worker's sweeper watches.
  std::unique_ptr<connection> create(const net::any_io_executor& executor, const target& t) {
    return std::make_unique<connection>(executor, t, sweeper_);
  }

  // The most recently used idle connection not older than the idle limit, or null.
  std::unique_ptr<connection> take(std::size_t backend);
  // Keeps a connection that finished a complete exchange cleanly.
  void put(std::size_t backend, std::unique_ptr<connection> c);
  // Drops every idle connection to a backend (after one turned out to be closed).
  void clear(std::size_t backend) { idle_[backend].clear(); }

 private:
  deadline_sweeper& sweeper_;
  std::vector<std::vector<std::unique_ptr<connection>>> idle_;
  std::size_t max_idle_per_backend_;
  std::chrono::seconds max_idle_time_;
};

}  // namespace aigw::upstream
