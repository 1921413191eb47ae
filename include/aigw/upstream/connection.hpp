#pragma once
// One connection to a backend, plain TCP or TLS, with its read buffer. Owned by one worker.
#include <chrono>
#include <memory>
#include <optional>

#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "aigw/core/asio.hpp"
#include "aigw/upstream/target.hpp"

namespace aigw::upstream {

class connection {
 public:
  using tls_stream = beast::ssl_stream<beast::tcp_stream>;

  connection(const net::any_io_executor& executor, const target& t);

  // The TCP layer: timeouts, socket options, close.
  beast::tcp_stream& tcp() noexcept;
  // Calls f with the stream to read and write (tcp_stream or ssl_stream); both calls must
  // return the same type.
  template <class F>
  decltype(auto) visit(F&& f) {
    if (tls_) return f(*tls_);
    return f(*plain_);
  }
  beast::flat_buffer& buffer() noexcept { return buffer_; }

  // Resolves, connects and (for TLS) handshakes, all within the target's connect timeout.
  awaitable<error_code> connect(const target& t);

  bool reused = false;  // came out of the pool (a failure before any response byte may retry)
  std::chrono::steady_clock::time_point idle_since{};

 private:
  std::optional<beast::tcp_stream> plain_;
  std::optional<tls_stream> tls_;
  beast::flat_buffer buffer_;
};

}  // namespace aigw::upstream
