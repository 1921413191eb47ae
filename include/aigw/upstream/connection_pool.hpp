#pragma once
// Idle keep-alive connections of one worker, per backend. Single-threaded by design: each
// worker owns its pool, so there are no locks on the hot path.
//
// An idle connection is watched (connection::watch_idle): a backend that sends anything
// while no request is outstanding (a late or extra response) or closes is dropped at once,
// so those bytes can never be read as the answer to another client's request. What remains
// is the window of one event-loop turn in which bytes have arrived but their readiness
// event has not been processed yet when a request takes the connection; nginx's and
// Envoy's keep-alive pools have the same window.
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

  // A new, unconnected connection to backend `backend` (`t`) whose deadline this worker's
  // sweeper watches.
  std::unique_ptr<connection> create(const net::any_io_executor& executor, const target& t,
                                     std::size_t backend) {
    return std::make_unique<connection>(executor, t, sweeper_, open_, backend);
  }

  // The most recently used idle connection not older than the idle limit, or null.
  std::unique_ptr<connection> take(std::size_t backend);
  // Keeps a connection that finished a complete exchange cleanly; one with unread bytes
  // (connection::has_unread_bytes) is closed instead.
  void put(std::size_t backend, std::unique_ptr<connection> c);
  // Drops every idle connection to a backend (after one turned out to be closed).
  void clear(std::size_t backend) { idle_[backend].clear(); }
  // Room for `backends` backends (a reload added some); never shrinks.
  void resize(std::size_t backends) {
    if (backends <= idle_.size()) return;
    idle_.resize(backends);
    open_->resize(backends);
  }
  std::size_t size() const noexcept { return idle_.size(); }

  std::size_t idle_count(std::size_t backend) const { return idle_[backend].size(); }
  // Connections to a backend that exist, idle or in use.
  std::uint64_t open_count(std::size_t backend) const { return (*open_)[backend]; }

 private:
  // Closes an idle connection the backend wrote to or closed.
  void drop(std::size_t backend, const connection* c);

  deadline_sweeper& sweeper_;
  std::shared_ptr<std::vector<std::uint64_t>> open_;  // by backend; see connection's ctor
  std::vector<std::vector<std::unique_ptr<connection>>> idle_;
  std::size_t max_idle_per_backend_;
  std::chrono::seconds max_idle_time_;
};

}  // namespace aigw::upstream
