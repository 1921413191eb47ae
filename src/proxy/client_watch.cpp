#include "aigw/proxy/client_watch.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace aigw::proxy {

std::shared_ptr<client_watch> client_watch::create(tcp::socket& client,
                                                   beast::flat_buffer& buffer) {
  return std::make_shared<client_watch>(client, buffer);
}

void client_watch::arm() {
  gone_ = false;
  armed_ = true;
  read();
}

void client_watch::read() {
  // The session's buffer is bounded: once it is full, a client that has pipelined that much
  // is no longer watched (its next requests are read when this one is done).
  if (buffer_.max_size() - buffer_.size() < kReadSize) return;
  pending_ = true;
  client_.async_read_some(
      buffer_.prepare(kReadSize),
      [self = shared_from_this()](error_code ec, std::size_t n) { self->on_read(ec, n); });
}

awaitable<void> client_watch::disarm() {
  armed_ = false;
  upstream_ = nullptr;
  if (!pending_) co_return;
  error_code ignored;
  client_.cancel(ignored);
  // The read may have completed already, its handler queued behind the one that ended the
  // exchange (one epoll event can carry both). A cancelled read's completion is queued at
  // once, so after one trip through the queue the handler has run and committed any bytes.
  co_await net::post(client_.get_executor(), net::use_awaitable);
}

void client_watch::on_read(error_code ec, std::size_t n) {
  pending_ = false;
  // Aborted: disarmed, timed out or the session is closing. Touch nothing else: the session
  // that owns the buffer may be gone.
  if (ec == net::error::operation_aborted) return;
  buffer_.commit(n);
  if (!ec) {
    // A pipelined request: kept for the session. The client may still go away after it,
    // so the watch reads on, but only while armed: a read that completed with data just as
    // the exchange ended runs after disarm(), and a read started then would race the
    // session's own read of the next request.
    if (armed_) read();
    return;
  }
  gone_ = true;
  if (upstream_) {
    error_code ignored;
    upstream_->cancel(ignored);
  }
}

}  // namespace aigw::proxy
