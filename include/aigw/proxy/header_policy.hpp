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
#include <boost/beast/http/message.hpp>

#include "aigw/core/errc.hpp"
#include "aigw/upstream/target.hpp"

namespace aigw::proxy {

// What an upstream request asks for beyond the client's own headers.
struct upstream_head_options {
  // A response stage reads the body: ask for it unencoded, in place of the client's
  // Accept-Encoding.
  bool identity_encoding = false;
  // A WebSocket upgrade (the Realtime API): Connection and Upgrade are sent (they are
  // hop-by-hop, so never copied), and Sec-WebSocket-Protocol loses the subprotocols that
  // carry a client's API key (browsers' "openai-insecure-api-key.<key>").
  bool websocket = false;
  // The gateway's id for the request, sent as x-request-id in place of the client's.
  std::string_view request_id = {};
  // "Name: value\r\n" lines an adapter adds (a version header, a request signature).
  std::string_view extra_fields = {};
  // The body's Content-Type in place of the client's: a translated body is the adapter's
  // own JSON, whatever the client labelled its body.
  std::string_view content_type = {};
};

// Appends "Name: value\r\n" for every end-to-end request header: skips hop-by-hop and
// framing headers, Host, Expect, every client credential header (AWS's x-amz-* signing
// headers among them), cookies and the forwarding chain (Forwarded, X-Forwarded-*,
// X-Real-IP, Via), and what `options` replaces.
void append_request_headers(const boost::beast::http::fields& from, std::string& out,
                            const upstream_head_options& options = {});

// Appends "Name: value\r\n" for every end-to-end response header: skips hop-by-hop and
// framing headers, and Set-Cookie.
void append_response_headers(const boost::beast::http::fields& from, std::string& out);

// Completes an upstream request head that an adapter (providers::adapter) has begun with
// "METHOD target": refuses, whatever the adapter wrote, a target (from `target_start` on)
// with a space, '#', CR, LF or NUL (errc::bad_request; `out` is then unusable), then writes
// the line's end, the forwarded headers, Host, the backend's credentials and Content-Length.
errc finish_upstream_request_head(std::string_view method,
                                  const boost::beast::http::fields& client_headers,
                                  const upstream::target& target, std::size_t target_start,
                                  std::uint64_t body_size, std::string& out,
                                  const upstream_head_options& options = {});

// Whether a request asks to switch to WebSocket: GET, HTTP/1.1, Upgrade: websocket and a
// Connection header naming upgrade (RFC 6455 4.1).
bool is_websocket_upgrade(const boost::beast::http::request_header<>& request) noexcept;

// The head relayed to the client for an upstream's 101 Switching Protocols: its end-to-end
// headers (Sec-WebSocket-Accept, -Protocol, -Extensions), then Connection: Upgrade and its
// Upgrade.
void write_client_switching_head(const boost::beast::http::response_header<>& upstream,
                                 std::string& out);

enum class body_framing { none, content_length, chunked, until_close };

// The whole head of the response relayed to the client; `content_length` is used with
// body_framing::content_length (the value the upstream parser validated, never its raw text).
// `gateway_fields` ("Name: value\r\n" lines, e.g. x-aigw-backend) are the gateway's own; an
// upstream's x-aigw-* headers are never relayed, so they cannot be forged.
void write_client_response_head(unsigned status, std::string_view reason,
                                const boost::beast::http::fields& upstream_headers,
                                body_framing framing, std::uint64_t content_length, bool keep_alive,
                                unsigned client_version, std::string& out,
                                std::string_view gateway_fields = {});

// Whether a Transfer-Encoding value is one this gateway accepts on a request: exactly
// "chunked". Anything else makes the framing ambiguous (request smuggling), so it is refused.
bool is_acceptable_transfer_encoding(boost::beast::string_view value) noexcept;

}  // namespace aigw::proxy
