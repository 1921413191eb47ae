#pragma once
// Short names for the Boost namespaces used everywhere. Do not name a namespace `http`
// elsewhere: it would clash with this alias.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>

namespace aigw {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using error_code = boost::system::error_code;
template <class T = void>
using awaitable = boost::asio::awaitable<T>;

// The completion token of every awaited operation: errors come back as values, never as
// exceptions (no exceptions on the data plane).
inline constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// Whether an I/O error means the peer closed or reset the connection.
inline bool is_connection_lost(error_code ec) {
  return ec == beast::http::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe;
}
}  // namespace aigw
