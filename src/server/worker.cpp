#include "aigw/server/worker.hpp"

#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "aigw/core/log.hpp"
#include "aigw/server/session.hpp"

namespace aigw::server {
namespace {
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
using reuse_port = net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

void log_exception(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    log::error("session ended by an exception: {}", ex.what());
  } catch (...) {
    log::error("session ended by an unknown exception");
  }
}
}  // namespace

worker::worker(std::shared_ptr<const proxy::snapshot> config, const tcp::endpoint& listen_on)
    : acceptor_(io_), config_(std::move(config)), pool_(config_->targets.size(), sweeper_) {
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
  net::co_spawn(io_, accept_loop(), log_exception);
  thread_ = std::thread([this] { io_.run(); });
}

void worker::stop() {
  io_.stop();
}

void worker::join() {
  if (thread_.joinable()) thread_.join();
}

awaitable<void> worker::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
    if (ec == net::error::operation_aborted) co_return;
    if (ec) {
      // Out of file descriptors or similar: back off instead of spinning on the error.
      log::warn("accept failed: {}", ec.message());
      net::steady_timer pause(io_, std::chrono::milliseconds(50));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    net::co_spawn(io_, run_session(std::move(socket), config_, pool_, sweeper_), log_exception);
  }
}

}  // namespace aigw::server
