#pragma once
// One connection to a backend, plain TCP or TLS, with its read buffer and I/O deadline.
// Owned by one worker.
#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "aigw/core/asio.hpp"
#include "aigw/core/deadline.hpp"
#include "aigw/upstream/target.hpp"

namespace aigw::upstream {

class connection {
 public:
  using tls_stream = beast::ssl_stream<tcp::socket>;

  // `open_counts[backend]` counts this connection for as long as it exists (the pool's
  // gauge of open connections; shared, so it outlives the pool at shutdown).
  connection(const net::any_io_executor& executor, const target& t, deadline_sweeper& sweeper,
             std::shared_ptr<std::vector<std::uint64_t>> open_counts, std::size_t backend);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

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

  // Whether bytes the backend sent are waiting on the gateway's side of the connection: in
  // the read buffer or, for TLS, inside the TLS engine. Such a connection is out of step
  // (the backend said more than its response) and is never reused.
  bool has_unread_bytes() const noexcept;

  // Watches the connection while it is idle in the pool: `on_activity()` runs when the
  // backend sends anything or closes (a late or extra response, an idle timeout), never
  // when the watch is cancelled. It peeks at the TCP layer, so nothing is consumed and a TLS
  // engine is never touched. It costs no syscall when the last read drained the socket:
  // Asio skips the speculative attempt on an exhausted socket and waits for readiness.
  template <class F>
  void watch_idle(F on_activity) {
    socket().async_receive(net::buffer(&peek_byte_, 1), net::socket_base::message_peek,
                           [on_activity = std::move(on_activity)](error_code ec, std::size_t) {
                             // Cancelled (taken from the pool) or closed with the connection:
                             // the connection may be gone, touch nothing.
                             if (ec == net::error::operation_aborted) return;
                             on_activity();
                           });
  }
  // Stops the idle watch without a syscall (the taken connection is about to be used).
  void stop_watching() noexcept {
    error_code ignored;
    socket().cancel(ignored);
  }

  bool reused = false;  // came out of the pool (a failure before any response byte may retry)
  std::chrono::steady_clock::time_point idle_since{};

 private:
  char peek_byte_ = 0;
  std::shared_ptr<std::vector<std::uint64_t>> open_counts_;
  std::size_t backend_;
  std::optional<tcp::socket> plain_;
  std::optional<tls_stream> tls_;
  beast::flat_buffer buffer_;
  std::optional<aigw::deadline> deadline_;  // constructed once the socket exists
};

}  // namespace aigw::upstream
