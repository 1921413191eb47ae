#pragma once
// Watches a client connection while its request is served upstream, so that a client that
// goes away closes the upstream at once (the provider stops generating, and billing), also
// while the gateway is still waiting for the first byte.
//
// It keeps one read pending on the client socket: a read right after the request was read
// costs no syscall (Asio skips the speculative attempt on an exhausted socket), where a
// readiness wait would re-arm epoll for every request. EOF or an error means the client is
// gone: the registered upstream socket is cancelled, which fails its pending operation.
// Bytes that do arrive (a pipelined request) are kept in the session's buffer and the watch
// reads on, up to the buffer's bound, so a client that pipelines a byte and then leaves is
// still noticed. Plain callbacks, no coroutine group: nothing is allocated per request.
#include <cstdint>
#include <memory>

#include <boost/beast/core/flat_buffer.hpp>

#include "aigw/core/asio.hpp"

namespace aigw::proxy {

class client_watch : public std::enable_shared_from_this<client_watch> {
 public:
  // One per client connection; both references must outlive the watch's use by the session
  // (the pending read's handler touches only the shared state once cancelled).
  static std::shared_ptr<client_watch> create(tcp::socket& client, beast::flat_buffer& buffer);

  void arm();  // starts watching; at most one watch per request
  // Stops watching. Completes once the pending read's handler has run, so bytes it read
  // are in the buffer before the session reads its next request.
  awaitable<void> disarm();
  bool gone() const noexcept { return gone_; }

  // The upstream socket to cancel when the client goes; nullptr for none.
  void guard(tcp::socket* upstream) noexcept { upstream_ = upstream; }

  client_watch(tcp::socket& client, beast::flat_buffer& buffer)
      : client_(client), buffer_(buffer) {}

 private:
  // Small: it is reserved in the buffer of every open stream. A longer pipelined request is
  // simply read on by the session.
  static constexpr std::size_t kReadSize = 512;
  void read();
  void on_read(error_code ec, std::size_t n);

  tcp::socket& client_;
  beast::flat_buffer& buffer_;
  tcp::socket* upstream_ = nullptr;
  bool armed_ = false;  // between arm() and disarm()
  bool pending_ = false;
  bool gone_ = false;
};

}  // namespace aigw::proxy
