#include "aigw/server/worker.hpp"

#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>

#include <fmt/format.h>

#include "aigw/core/errc.hpp"
#include "aigw/core/log.hpp"
#include "session.hpp"

namespace aigw::server {
namespace {
using reuse_port = net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

}  // namespace

worker::worker(std::shared_ptr<const proxy::snapshot> config, const tcp::endpoint& listen_on,
               process_budget& budget)
    : stats_(config->routes.size(), config->slot_names.size()),
      acceptor_(io_),
      config_(std::move(config)),
      budget_(budget),
      pool_(config_->slot_names.size(), sweeper_) {
  sessions_.config = config_;
  acceptor_.open(listen_on.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.set_option(reuse_port(true));
  acceptor_.bind(listen_on);
  acceptor_.listen(net::socket_base::max_listen_connections);
}

worker::~worker() {
  stop();
  join();
}

void worker::start() {
  sweeper_.start();
  client_budgets_.configure(config_->config.redis);
  net::co_spawn(io_, accept_loop(),
                [](std::exception_ptr e) { log::exception("the accept loop ended", e); });
  thread_ = std::thread([this] { io_.run(); });
}

void worker::stop() {
  io_.stop();
}

void worker::drain(std::chrono::milliseconds timeout) {
  net::post(io_, [this, timeout] {
    if (sessions_.draining) return;
    sessions_.draining = true;
    error_code ignored;
    acceptor_.close(ignored);
    sessions_.close_waiting();
    if (sessions_.count == 0) {
      io_.stop();
      return;
    }
    drain_timer_ = std::make_unique<net::steady_timer>(io_, timeout);
    drain_timer_->async_wait([this](error_code ec) {
      if (ec) return;
      if (sessions_.count == 0) return io_.stop();
      log::warn("drain: {} connection{} still busy after drain_timeout; ending them",
                sessions_.count, sessions_.count == 1 ? "" : "s");
      // Each pending operation ends as a timeout while draining: a request not answered yet
      // gets a 503 shutting_down, a stream its error event and a reset (never a FIN that
      // reads as a clean end). The worker stops when the last session ends, or after a
      // moment for their last writes.
      sweeper_.expire_all();
      drain_timer_->expires_after(std::chrono::seconds(1));
      drain_timer_->async_wait([this](error_code ec) {
        if (!ec) io_.stop();
      });
    });
  });
}

void worker::reload(std::shared_ptr<const proxy::snapshot> config) {
  net::post(io_, [this, config = std::move(config)] {
    // Slots only grow, so requests still on the old snapshot index within bounds.
    pool_.resize(config->slot_names.size());
    stats_.resize(config->routes.size(), config->slot_names.size());
    // Idle connections to backends the new config dropped (or changed) are closed.
    std::vector<bool> kept(config->slot_names.size());
    for (const auto& t : config->targets) kept[t.slot] = true;
    for (std::size_t slot = 0; slot < kept.size(); ++slot)
      if (!kept[slot]) pool_.clear(slot);
    client_budgets_.configure(config->config.redis);
    config_ = config;
    sessions_.config = std::move(config);
  });
}

void worker::session_ended() {
  --sessions_.count;
  if (sessions_.draining && sessions_.count == 0) io_.stop();
}

void worker::join() {
  if (thread_.joinable()) thread_.join();
}

std::future<metrics::worker_stats> worker::read_stats() {
  auto promise = std::make_shared<std::promise<metrics::worker_stats>>();
  auto future = promise->get_future();
  net::post(io_, [this, promise] {
    auto copy = stats_;
    for (std::size_t b = 0; b < copy.pool_open.size() && b < pool_.size(); ++b) {
      copy.pool_open[b] = pool_.open_count(b);
      copy.pool_idle[b] = pool_.idle_count(b);
    }
    promise->set_value(std::move(copy));
  });
  return future;
}

awaitable<void> worker::accept_loop() {
  // Out of file descriptors (or similar) is not fixed by trying again at once: back off,
  // doubling the pause up to a second, and say so once per interval, not once per try.
  constexpr auto kFirstPause = std::chrono::milliseconds(10);
  constexpr auto kLongestPause = std::chrono::milliseconds(1000);
  auto pause = kFirstPause;
  log::rate_limited_warning accept_failed{std::chrono::seconds(10)};
  log::rate_limited_warning refused{std::chrono::seconds(10)};
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) {
      accept_failed.warn("accept failed: {} (backing off)", ec.message());
      net::steady_timer timer(io_, pause);
      co_await timer.async_wait(use_tuple);
      pause = std::min(pause * 2, kLongestPause);
      continue;
    }
    pause = kFirstPause;
    if (!budget_.try_open_connection()) {
      refused.warn("refusing connections: limits.max_connections ({}) reached, {} refused so far",
                   config_->config.limits.max_connections, budget_.refused_connections());
      refuse(socket);
      continue;
    }
    ++sessions_.count;
    net::co_spawn(io_,
                  run_session(std::move(socket), config_,
                              {pool_, sweeper_, budget_, stats_, sessions_, client_budgets_}),
                  [this](std::exception_ptr e) {
                    budget_.close_connection();
                    log::exception("session ended by an exception", e);
                    session_ended();
                  });
  }
}

// A connection over the limit gets a 503 and is closed at once: one non-blocking write into
// an empty send buffer, no session and no coroutine (holding it would be what the limit is
// there to prevent). What the client already sent is read first, so that the close is a FIN
// and not a reset that could destroy the reply in flight.
void worker::refuse(tcp::socket& socket) {
  static const std::string reply = [] {
    auto body = render_error_json(errc::too_many_connections);
    return fmt::format(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        "Proxy-Status: aigw-proxy; error={}\r\nRetry-After: 1\r\nConnection: close\r\n"
        "Content-Length: {}\r\n\r\n{}",
        proxy_status_token(errc::too_many_connections), body.size(), body);
  }();
  error_code ignored;
  socket.non_blocking(true, ignored);
  std::array<char, 4096> sink;
  for (int i = 0; i < 16 && socket.read_some(net::buffer(sink), ignored) > 0;) ++i;
  socket.write_some(net::buffer(reply), ignored);
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  socket.close(ignored);
}

}  // namespace aigw::server
