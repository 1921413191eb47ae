#include "aigw/core/errc.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace aigw {
namespace {

using status = boost::beast::http::status;

struct error_info {
  status code;
  std::string_view openai_code;
  std::string_view proxy_status;
  std::string_view message;
};

// One row per errc value, in enum order.
constexpr error_info kErrors[] = {
    {status::ok, "", "", "ok"},
    {status::bad_request, "invalid_json", "http_request_error",
     "We could not parse the JSON body of your request"},
    {status::bad_request, "invalid_utf8", "http_request_error",
     "The request body is not valid UTF-8"},
    {status::bad_request, "duplicate_model", "http_request_error",
     "The request body has more than one \"model\" field"},
    {status::bad_request, "model_required", "http_request_error",
     "You must provide a model parameter"},
    {status::bad_request, "invalid_model", "http_request_error",
     "The \"model\" field must be a string"},
    {status::bad_request, "invalid_model", "http_request_error",
     "The model name cannot be sent to this backend"},
    {status::bad_request, "invalid_value", "http_request_error",
     "A request parameter has a value this gateway does not accept"},
    {status::bad_request, "bad_framing", "http_request_error",
     "The request's framing is ambiguous or malformed"},
    {status::bad_request, "bad_request", "http_request_error", "Malformed HTTP request"},
    {status::not_found, "not_found", "http_request_error", "Unknown request URL"},
    {status::not_found, "model_not_found", "http_request_error",
     "The model does not exist on this gateway"},
    {status::not_found, "not_found", "http_request_error", "No such object for this API key"},
    {status::unauthorized, "invalid_api_key", "http_request_denied",
     "The request's API key is missing or not one this gateway knows"},
    {status::forbidden, "model_not_allowed", "http_request_denied",
     "This API key may not use the model"},
    {status::forbidden, "permission_denied", "http_request_denied",
     "Listing stored objects is not open to the API keys of this gateway: each key sees the "
     "objects it made, by their ids"},
    {status::too_many_requests, "rate_limit_exceeded", "http_request_denied",
     "This API key's rate limit is reached; retry after the time in Retry-After"},
    {status::request_timeout, "request_timeout", "http_request_error",
     "The request was not received in time"},
    {status::payload_too_large, "request_too_large", "http_request_error",
     "The request body is larger than this gateway accepts"},
    {status::request_header_fields_too_large, "headers_too_large", "http_request_error",
     "The request headers are larger than this gateway accepts"},
    {status::bad_gateway, "upstream_unreachable", "connection_refused",
     "The gateway could not connect to the backend"},
    {status::bad_gateway, "upstream_error", "http_protocol_error",
     "The backend sent a malformed or incomplete response"},
    {status::gateway_timeout, "upstream_timeout", "http_response_timeout",
     "The backend did not start answering in time"},
    {status::gateway_timeout, "upstream_stalled", "http_response_timeout",
     "The backend stopped sending its response"},
    {status::service_unavailable, "backend_unavailable", "destination_unavailable",
     "Every backend that serves this request is failing or rate limited; retry shortly"},
    {status::service_unavailable, "overloaded", "proxy_internal_error",
     "The gateway is holding too many request bodies; retry shortly"},
    {status::service_unavailable, "shutting_down", "destination_unavailable",
     "The gateway is shutting down and could not finish this request in time; retry"},
    {status::service_unavailable, "overloaded", "connection_limit_reached",
     "The gateway has too many open connections; retry shortly"},
    {status::service_unavailable, "budget_unavailable", "proxy_internal_error",
     "This API key's budget cannot be checked right now; retry shortly"},
};
static_assert(std::size(kErrors) == kErrcCount);

const error_info& info(errc e) noexcept {
  auto i = static_cast<size_t>(e);
  return kErrors[i < std::size(kErrors) ? i : 0];
}

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "aigw"; }
  std::string message(int ev) const override {
    return std::string(info(static_cast<errc>(ev)).message);
  }
};

// Appends `text` with every byte that is not part of a well-formed UTF-8 sequence (RFC 3629:
// no overlong forms, no surrogates, nothing past U+10FFFF) replaced by U+FFFD. A detail may
// quote a client's bytes (a path, a model); Boost.JSON copies invalid UTF-8 through as is,
// which would make the whole error body invalid JSON.
void append_valid_utf8(std::string_view text, std::string& out) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  auto continuation = [&](std::size_t i) { return i < text.size() && (byte(i) & 0xc0) == 0x80; };
  for (std::size_t i = 0; i < text.size();) {
    unsigned char b = byte(i);
    std::size_t length = b < 0x80                 ? 1
                         : b >= 0xc2 && b <= 0xdf ? 2
                         : b >= 0xe0 && b <= 0xef ? 3
                         : b >= 0xf0 && b <= 0xf4 ? 4
                                                  : 0;
    bool ok = length > 0;
    for (std::size_t k = 1; ok && k < length; ++k) ok = continuation(i + k);
    if (ok && length >= 3) {
      unsigned char second = byte(i + 1);
      ok = !(b == 0xe0 && second < 0xa0) && !(b == 0xed && second >= 0xa0) &&
           !(b == 0xf0 && second < 0x90) && !(b == 0xf4 && second >= 0x90);
    }
    if (!ok) {
      out += "\xef\xbf\xbd";
      ++i;
      continue;
    }
    out.append(text.substr(i, length));
    i += length;
  }
}

}  // namespace

const std::error_category& gateway_category() noexcept {
  static const category instance;
  return instance;
}

boost::beast::http::status http_status(errc e) noexcept {
  return info(e).code;
}

std::string_view openai_type(errc e) noexcept {
  return static_cast<unsigned>(info(e).code) < 500 ? "invalid_request_error" : "api_error";
}

std::string_view openai_code(errc e) noexcept {
  return info(e).openai_code;
}
std::string_view proxy_status_token(errc e) noexcept {
  return info(e).proxy_status;
}

bool closes_connection(errc e) noexcept {
  return e == errc::bad_framing || e == errc::bad_request || e == errc::body_too_large ||
         e == errc::headers_too_large || e == errc::request_timeout || e == errc::overloaded ||
         e == errc::too_many_connections;
}

std::string_view anthropic_error_type(unsigned status) noexcept {
  switch (status) {
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 503:
    case 529:
      return "overloaded_error";
    default:
      return status < 500 ? "invalid_request_error" : "api_error";
  }
}

std::string render_error_json(errc e, std::string_view detail, client_api api) {
  std::string message(info(e).message);
  if (!detail.empty()) {
    message += ": ";
    append_valid_utf8(detail, message);
  }
  if (api == client_api::anthropic)
    return boost::json::serialize(
        boost::json::value{{"type", "error"},
                           {"error",
                            {{"type", anthropic_error_type(static_cast<unsigned>(info(e).code))},
                             {"message", message}}}});
  boost::json::value body = {{"error",
                              {{"message", message},
                               {"type", openai_type(e)},
                               {"param", nullptr},
                               {"code", openai_code(e)}}}};
  return boost::json::serialize(body);
}

}  // namespace aigw
