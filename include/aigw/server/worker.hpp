#pragma once
// A worker: one thread, one io_context, its own SO_REUSEPORT acceptor and its own upstream
// connection pool. Workers share nothing mutable, so the hot path takes no locks (the
// nginx/Envoy worker model); the kernel spreads connections across their acceptors.
#include <future>
#include <memory>
#include <thread>

#include "aigw/core/asio.hpp"
#include "aigw/core/deadline.hpp"
#include "aigw/metrics/worker_stats.hpp"
#include "aigw/proxy/client_budgets.hpp"
#include "aigw/proxy/snapshot.hpp"
#include "aigw/server/process_budget.hpp"
#include "aigw/server/worker_sessions.hpp"
#include "aigw/upstream/connection_pool.hpp"

#include <boost/asio/steady_timer.hpp>

namespace aigw::server {

class worker {
 public:
  // Binds and listens at once, so errors surface at start-up and port 0 resolves to a real
  // port that the other workers then bind too.
  // `budget` is shared by all workers and must outlive them.
  worker(std::shared_ptr<const proxy::snapshot> config, const tcp::endpoint& listen_on,
         process_budget& budget);
  ~worker();
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  void start();
  // Stops accepting and ends every session; safe to call from any thread.
  void stop();
  // Stops accepting, closes connections that wait for a request, lets the requests and
  // streams in flight finish (their responses say Connection: close), then stops: when the
  // last session ends, or after `timeout` whatever is left. Safe to call from any thread.
  void drain(std::chrono::milliseconds timeout);
  // Serves new requests (new connections, and the next request of open ones) with `config`;
  // requests in flight finish on theirs. Safe to call from any thread.
  void reload(std::shared_ptr<const proxy::snapshot> config);
  void join();

  // A copy of this worker's counters (with its pool's gauges), taken on its own thread. The
  // future stays unready while the worker is stopped: wait with a limit.
  std::future<metrics::worker_stats> read_stats();

 private:
  awaitable<void> accept_loop();
  void refuse(tcp::socket& socket);
  void session_ended();

  // Declared before the io_context, so that they outlive it: destroying it destroys the
  // sessions still suspended in it, and those touch their counters and links on the way.
  metrics::worker_stats stats_;
  worker_sessions sessions_;
  net::io_context io_{1};
  tcp::acceptor acceptor_;
  std::shared_ptr<const proxy::snapshot> config_;
  process_budget& budget_;
  deadline_sweeper sweeper_{io_};
  upstream::connection_pool pool_;
  proxy::client_budgets client_budgets_{io_, stats_};
  std::unique_ptr<net::steady_timer> drain_timer_;
  std::thread thread_;
};

}  // namespace aigw::server
