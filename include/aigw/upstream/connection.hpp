#pragma once
// One connection to a backend, plain TCP or TLS, with its read buffer and I/O deadline.
// Owned by one worker.
#include <chrono>
#include <memory>
#include <optional>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "aigw/core/asio.hpp"
#include "aigw/core/deadline.hpp"
#include "aigw/upstream/target.hpp"

namespace aigw::upstream {

class connection {
 public:
  using tls_stream = beast::ssl_stream<tcp::socket>;

  connection(const net::any_io_executor& executor, const target& t, deadline_sweeper& sweeper);

  // The TCP layer: socket options, cancel, close.
  tcp::socket& socket() noexcept { return tls_ ? beast::get_lowest_layer(*tls_) : *plain_; }
  // Calls f with the stream to read and write (tcp::socket or ssl_stream); both calls must
  // return the same type.
  template <class F>
  decltype(auto) visit(F&& f) {
    if (tls_) return f(*tls_);
    return f(*plain_);
  }
  beast::flat_buffer& buffer() noexcept { return buffer_; }
  aigw::deadline& deadline() noexcept { return *deadline_; }

  // Resolves, connects and (for TLS) handshakes, all within the target's connect timeout.
  // A timeout comes back as net::error::timed_out.
  awaitable<error_code> connect(const target& t);

  bool reused = false;  // came out of the pool (a failure before any response byte may retry)
  std::chrono::steady_clock::time_point idle_since{};

 private:
  std::optional<tcp::socket> plain_;
  std::optional<tls_stream> tls_;
  beast::flat_buffer buffer_;
  std::optional<aigw::deadline> deadline_;  // constructed once the socket exists
};

}  // namespace aigw::upstream
