#pragma once
// Which headers cross the proxy, as data (RFC 9110 section 7.6.1). Hop-by-hop headers and
// those the client's Connection header names stay on their own hop; framing headers are
// recomputed for the other side; client credentials never reach a backend, which gets its
// own.
#include <boost/beast/http/fields.hpp>

namespace aigw::proxy {

// Copies end-to-end request headers from a client request to an upstream request. Skips
// hop-by-hop and framing headers, Host, Expect and every client credential header.
void copy_request_headers(const boost::beast::http::fields& from, boost::beast::http::fields& to);

// Copies end-to-end response headers from an upstream response to a client response.
// Skips hop-by-hop and framing headers.
void copy_response_headers(const boost::beast::http::fields& from, boost::beast::http::fields& to);

// Whether a Transfer-Encoding value is one this gateway accepts on a request: exactly
// "chunked". Anything else makes the framing ambiguous (request smuggling), so it is refused.
bool is_acceptable_transfer_encoding(boost::beast::string_view value) noexcept;

}  // namespace aigw::proxy
