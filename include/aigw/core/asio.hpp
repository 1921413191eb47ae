#pragma once
// Short names for the Boost namespaces used everywhere. Do not name a namespace `http`
// elsewhere: it would clash with this alias.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>

namespace aigw {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using error_code = boost::system::error_code;
template <class T = void>
using awaitable = boost::asio::awaitable<T>;
}  // namespace aigw
