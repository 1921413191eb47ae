#include "aigw/upstream/connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace aigw::upstream {

namespace {

bool is_ip_literal(const std::string& host) {
  error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}
}  // namespace

connection::connection(const net::any_io_executor& executor, const target& t,
                       deadline_sweeper& sweeper,
                       std::shared_ptr<std::vector<std::uint64_t>> open_counts, std::size_t backend)
    : open_counts_(std::move(open_counts)), backend_(backend) {
  ++(*open_counts_)[backend_];
  if (t.tls)
    tls_.emplace(executor, *t.tls_context);
  else
    plain_.emplace(executor);
  deadline_.emplace(sweeper, socket());
  // Bounds what a backend can make the read buffer hold (Beast bounds neither a chunk-size
  // line nor trailers); response heads are limited separately, to 64 KiB.
  buffer_.max_size(1 << 20);
}

connection::~connection() {
  --(*open_counts_)[backend_];
}

bool connection::has_unread_bytes() const noexcept {
  if (buffer_.size() > 0) return true;
  if (!tls_) return false;
  // Plaintext the engine decrypted but nobody read, or records read from the socket that
  // it has not processed yet.
  auto* ssl = const_cast<tls_stream&>(*tls_).native_handle();
  return SSL_pending(ssl) > 0 || BIO_ctrl_pending(SSL_get_rbio(ssl)) > 0;
}

awaitable<error_code> connection::connect(const target& t) {
  auto& socket = this->socket();
  auto timed_out = [&](error_code ec) {
    return deadline_->fired() ? error_code(net::error::timed_out) : ec;
  };
  deadline_->expires_after(t.connect_timeout);
  tcp::resolver resolver(co_await net::this_coro::executor);
  auto [rec, endpoints] = co_await resolver.async_resolve(t.host, t.port, use_tuple);
  if (rec) co_return rec;
  auto [cec, endpoint] = co_await net::async_connect(socket, endpoints, use_tuple);
  if (cec) co_return timed_out(cec);
  error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  if (tls_) {
    auto* ssl = tls_->native_handle();
    // SNI is for names only (RFC 6066); certificate checks cover names and IP addresses.
    if (!is_ip_literal(t.host)) SSL_set_tlsext_host_name(ssl, t.host.c_str());
    tls_->set_verify_callback(net::ssl::host_name_verification(t.host));
    auto [hec] = co_await tls_->async_handshake(net::ssl::stream_base::client, use_tuple);
    if (hec) co_return timed_out(hec);
  }
  deadline_->expires_never();
  co_return error_code{};
}

}  // namespace aigw::upstream
