#pragma once
// Every error the gateway produces itself, as one enum. Each value renders three ways:
// an HTTP status, a Proxy-Status error token (RFC 9209) and an OpenAI-shaped JSON body,
// so clients' SDKs parse it and tests can assert on the enum.
#include <string>
#include <string_view>
#include <system_error>

#include <boost/beast/http/status.hpp>

#include "aigw/core/client_api.hpp"

namespace aigw {

enum class errc {
  ok = 0,
  invalid_json,          // 400 body is not a JSON object
  invalid_utf8,          // 400
  duplicate_model,       // 400 "model" appears twice
  missing_model,         // 400 endpoint needs a model
  invalid_model,         // 400 "model" is not a string
  unsafe_model_name,     // 400 the model would go into an upstream path and cannot
  invalid_parameter,     // 400 a field the gateway reads (max_tokens, stream, ...) is malformed
  bad_framing,           // 400 smuggling shapes; connection closed
  bad_request,           // 400 other malformed HTTP
  not_found,             // 404 unknown path
  model_not_found,       // 404 /v1/models/{id} not served here
  object_not_found,      // 404 a stored object the caller does not own (or no such object)
  invalid_api_key,       // 401 no key, or not a client's (with `clients:` configured)
  model_not_allowed,     // 403 the client may not use this model
  listing_not_allowed,   // 403 listing stored objects, which belong to many clients
  rate_limited,          // 429 the client's budget (requests or tokens) is spent for now
  request_timeout,       // 408 client too slow to send its request
  body_too_large,        // 413
  headers_too_large,     // 431
  upstream_unreachable,  // 502 connect/TLS/DNS failure
  upstream_broken,       // 502 upstream sent a malformed response or closed early
  upstream_timeout,      // 504 no response head within first_byte
  upstream_stalled,      // 504 a response body stopped arriving for longer than idle
  no_backend,            // 503 every target of the route is out of rotation (breaker, 429)
  overloaded,            // 503 the process's request body budget is spent
  shutting_down,         // 503 drain_timeout ran out while the request was in flight
  too_many_connections,  // 503 limits.max_connections reached
  budget_unavailable,    // 503 Redis could not check a client's budget (fail_closed)
};
// How many errc values there are (ok included): the size of a table indexed by errc.
inline constexpr std::size_t kErrcCount = static_cast<std::size_t>(errc::budget_unavailable) + 1;

const std::error_category& gateway_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), gateway_category()};
}

// The HTTP status for an error.
boost::beast::http::status http_status(errc e) noexcept;
// OpenAI's "type" field: invalid_request_error for client faults, api_error otherwise.
std::string_view openai_type(errc e) noexcept;
// OpenAI's "code" field, a stable machine-readable name.
std::string_view openai_code(errc e) noexcept;
// The RFC 9209 Proxy-Status error token.
std::string_view proxy_status_token(errc e) noexcept;
// Whether the client connection must be closed after the reply (framing is unknown).
bool closes_connection(errc e) noexcept;

// {"error":{"message":...,"type":...,"param":null,"code":...}}, or for an Anthropic client
// {"type":"error","error":{"type":...,"message":...}}; `detail` is appended to the standard
// message when not empty. The detail must never contain a secret.
std::string render_error_json(errc e, std::string_view detail = {},
                              client_api api = client_api::openai);

// Anthropic's error "type" for an HTTP status (invalid_request_error, authentication_error,
// permission_error, not_found_error, request_too_large, rate_limit_error, api_error,
// overloaded_error).
std::string_view anthropic_error_type(unsigned status) noexcept;

}  // namespace aigw

template <>
struct std::is_error_code_enum<aigw::errc> : std::true_type {};
