#pragma once
// The admin listener: GET /metrics (Prometheus text 0.0.4), /healthz (alive), /readyz (200
// while serving, 503 once shutting down) and /config (the effective config, secrets
// redacted). On its own address, never the data port, and its own thread, so a scrape never
// waits behind client traffic and the workers are only asked for a copy of their counters.
#include <functional>
#include <string>
#include <thread>

#include "aigw/core/asio.hpp"

namespace aigw::server {

struct admin_handlers {
  std::function<std::string()> metrics;      // the exposition text
  std::function<std::string()> config_yaml;  // --print-config's text
  std::function<bool()> ready;               // serving (not shutting down)
};

class admin_server {
 public:
  // Binds at once (throws boost::system::system_error when it cannot).
  admin_server(const tcp::endpoint& listen_on, admin_handlers handlers);
  ~admin_server();
  admin_server(const admin_server&) = delete;
  admin_server& operator=(const admin_server&) = delete;

  tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  void start();
  void stop();  // from any thread; then join()
  void join();

 private:
  awaitable<void> accept_loop();
  awaitable<void> serve(tcp::socket socket);

  net::io_context io_{1};
  tcp::acceptor acceptor_;
  admin_handlers handlers_;
  std::thread thread_;
};

}  // namespace aigw::server
