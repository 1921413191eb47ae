#include "aigw/proxy/client_watch.hpp"

namespace aigw::proxy {

std::shared_ptr<client_watch> client_watch::create(tcp::socket& client,
                                                   beast::flat_buffer& buffer) {
  return std::make_shared<client_watch>(client, buffer);
}

void client_watch::arm() {
  gone_ = false;
  pending_ = true;
  auto generation = ++generation_;
  client_.async_read_some(buffer_.prepare(4096),
                          [self = shared_from_this(), generation](error_code ec, std::size_t n) {
                            self->on_read(generation, ec, n);
                          });
}

void client_watch::disarm() {
  upstream_ = nullptr;
  if (!pending_) return;
  pending_ = false;
  ++generation_;  // the cancelled read's completion is now stale
  error_code ignored;
  client_.cancel(ignored);
}

void client_watch::on_read(std::uint64_t generation, error_code ec, std::size_t n) {
  if (generation != generation_) return;  // cancelled by disarm: the session has moved on
  pending_ = false;
  buffer_.commit(n);
  if (!ec) return;  // a pipelined request: kept for the session, nothing to stop
  gone_ = true;
  if (upstream_) {
    error_code ignored;
    upstream_->cancel(ignored);
  }
}

}  // namespace aigw::proxy
