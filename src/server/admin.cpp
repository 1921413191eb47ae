#include "admin.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "aigw/core/log.hpp"

namespace aigw::server {
namespace {

// An admin request is a GET line and a few headers; anything larger is not one.
constexpr std::uint32_t kMaxAdminHead = 8 * 1024;
constexpr auto kAdminTimeout = std::chrono::seconds(10);

}  // namespace

admin_server::admin_server(const tcp::endpoint& listen_on, admin_handlers handlers)
    : acceptor_(io_, listen_on), handlers_(std::move(handlers)) {}

admin_server::~admin_server() {
  stop();
  join();
}

void admin_server::start() {
  net::co_spawn(io_, accept_loop(), net::detached);
  thread_ = std::thread([this] { io_.run(); });
}

void admin_server::stop() {
  net::post(io_, [this] {
    error_code ignored;
    acceptor_.close(ignored);
    io_.stop();
  });
}

void admin_server::join() {
  if (thread_.joinable()) thread_.join();
}

awaitable<void> admin_server::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) continue;
    net::co_spawn(io_, serve(std::move(socket)), net::detached);
  }
}

// One request per connection (Connection: close): scrapes are seconds apart.
awaitable<void> admin_server::serve(tcp::socket socket) {
  net::steady_timer deadline(io_, kAdminTimeout);
  deadline.async_wait([&socket](error_code ec) {
    error_code ignored;
    if (!ec) socket.close(ignored);
  });
  beast::flat_buffer buffer(kMaxAdminHead);
  http::request_parser<http::string_body> parser;
  parser.header_limit(kMaxAdminHead);
  parser.body_limit(kMaxAdminHead);
  auto [rec, n] = co_await http::async_read(socket, buffer, parser, use_tuple);
  if (rec) co_return;
  const auto& request = parser.get();
  http::response<http::string_body> response{http::status::ok, request.version()};
  response.keep_alive(false);
  auto target = request.target();
  auto path = target.substr(0, target.find('?'));
  auto reply = [&](http::status status, std::string_view type, std::string body) {
    response.result(status);
    response.set(http::field::content_type, type);
    response.body() = std::move(body);
  };
  if (request.method() != http::verb::get && request.method() != http::verb::head) {
    reply(http::status::method_not_allowed, "text/plain", "GET only\n");
    response.set(http::field::allow, "GET, HEAD");
  } else if (path == "/metrics") {
    reply(http::status::ok, "text/plain; version=0.0.4; charset=utf-8", handlers_.metrics());
  } else if (path == "/healthz") {
    reply(http::status::ok, "application/json", R"({"status":"ok"})");
  } else if (path == "/readyz") {
    bool ready = handlers_.ready();
    reply(ready ? http::status::ok : http::status::service_unavailable, "application/json",
          ready ? R"({"status":"ready"})" : R"({"status":"draining"})");
  } else if (path == "/config") {
    reply(http::status::ok, "application/yaml", handlers_.config_yaml());
  } else {
    reply(http::status::not_found, "text/plain", "/metrics, /healthz, /readyz, /config\n");
  }
  response.prepare_payload();
  if (request.method() == http::verb::head) response.body().clear();
  http::response_serializer<http::string_body> serializer{response};
  if (request.method() == http::verb::head)
    co_await http::async_write_header(socket, serializer, use_tuple);
  else
    co_await http::async_write(socket, serializer, use_tuple);
  deadline.cancel();
  error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace aigw::server
