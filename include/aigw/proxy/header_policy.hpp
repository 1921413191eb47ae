#pragma once
// Which headers cross the proxy, as data (RFC 9110 section 7.6.1), and the message heads the
// gateway writes itself. Hop-by-hop headers and those the Connection header names stay on
// their own hop; framing headers are recomputed for the other side; client credentials never
// reach a backend, which gets its own. Heads are written straight into a reused string (no
// per-header allocation, one gather write with the body).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/beast/http/fields.hpp>

#include "aigw/core/errc.hpp"
#include "aigw/upstream/target.hpp"

namespace aigw::proxy {

// Appends "Name: value\r\n" for every end-to-end request header: skips hop-by-hop and
// framing headers, Host, Expect, every client credential header, cookies and the
// forwarding chain (Forwarded, X-Forwarded-*, X-Real-IP, Via).
void append_request_headers(const boost::beast::http::fields& from, std::string& out);

// Appends "Name: value\r\n" for every end-to-end response header: skips hop-by-hop and
// framing headers, and Set-Cookie.
void append_response_headers(const boost::beast::http::fields& from, std::string& out);

struct upstream_request_line {
  std::string_view method;
  std::string_view rest;   // path after /v1, e.g. "/chat/completions"
  std::string_view query;  // "" or "?..."
  std::string_view model;  // the model sent upstream (Azure puts its deployment in the path)
};

// The whole head of the request sent to `target`: request line on the backend's base path
// (for Azure OpenAI: /openai/deployments/<deployment>/<rest>?api-version=...), forwarded
// headers, Host, the backend's credentials, Content-Length. Refuses, whatever the caller
// passes, a deployment that is not a safe path segment (errc::unsafe_model_name) and a
// target with a space, '#', CR, LF or NUL (errc::bad_request); `out` is then unusable.
errc write_upstream_request_head(const upstream_request_line& line,
                                 const boost::beast::http::fields& client_headers,
                                 const upstream::target& target, std::size_t body_size,
                                 std::string& out);

enum class body_framing { none, content_length, chunked, until_close };

// The whole head of the response relayed to the client; `content_length` is used with
// body_framing::content_length (the value the upstream parser validated, never its raw text).
void write_client_response_head(unsigned status, std::string_view reason,
                                const boost::beast::http::fields& upstream_headers,
                                body_framing framing, std::uint64_t content_length, bool keep_alive,
                                unsigned client_version, std::string& out);

// Whether a Transfer-Encoding value is one this gateway accepts on a request: exactly
// "chunked". Anything else makes the framing ambiguous (request smuggling), so it is refused.
bool is_acceptable_transfer_encoding(boost::beast::string_view value) noexcept;

}  // namespace aigw::proxy
