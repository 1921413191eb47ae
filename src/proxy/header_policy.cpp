#include "aigw/proxy/header_policy.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/container/small_vector.hpp>

namespace aigw::proxy {
namespace {

using boost::beast::string_view;
using boost::beast::http::field;

// Never forwarded in either direction.
constexpr std::array kHopByHop = {
    field::connection,
    field::keep_alive,
    field::proxy_connection,
    field::te,
    field::trailer,
    field::upgrade,
    field::transfer_encoding,
    field::content_length,
    field::proxy_authenticate,
    field::proxy_authorization,
};

// Also dropped from requests: set by the gateway per backend, answered by it, or about the
// client and its network, which a third-party provider has no business seeing: its cookies
// (for the gateway's own site, if any) and the forwarding chain (addresses inside the
// client's network). The gateway adds no X-Forwarded-For or Via of its own either.
constexpr std::array kRequestOnly = {field::host,   field::expect,    field::authorization,
                                     field::cookie, field::forwarded, field::via};
// Dropped from requests, without a Beast field enum: client credentials, the rest of the
// de-facto forwarding headers.
constexpr std::array<string_view, 6> kRequestOnlyByName = {"api-key",           "x-api-key",
                                                           "x-forwarded-for",   "x-forwarded-host",
                                                           "x-forwarded-proto", "x-real-ip"};
// Dropped from responses: a provider's cookies are set for the gateway's origin, where the
// client's cookies never go back to the provider (see above).
constexpr std::array kResponseOnly = {field::set_cookie};

// The tokens of every Connection header, gathered once: the header fields they name are
// hop-by-hop too.
using connection_tokens = boost::container::small_vector<string_view, 8>;
connection_tokens tokens_of_connection(const boost::beast::http::fields& from) {
  connection_tokens tokens;
  for (const auto& f : from)
    if (f.name() == field::connection)
      for (auto token : boost::beast::http::token_list{f.value()}) tokens.push_back(token);
  return tokens;
}

void append_field(std::string& out, string_view name, string_view value) {
  out.append(name.data(), name.size());
  out.append(": ", 2);
  out.append(value.data(), value.size());
  out.append("\r\n", 2);
}

// Sec-WebSocket-Protocol without the subprotocols that carry a client's key: browsers, which
// cannot set an Authorization header on a WebSocket, send the OpenAI key as
// "openai-insecure-api-key.<key>". The backend's own key goes in its credential header.
void append_websocket_protocols(const boost::beast::http::fields& from, std::string& out) {
  std::string kept;
  for (const auto& f : from) {
    if (f.name() != field::sec_websocket_protocol) continue;
    for (auto protocol : boost::beast::http::token_list{f.value()}) {
      if (boost::beast::iequals(protocol.substr(0, 24), "openai-insecure-api-key.")) continue;
      if (!kept.empty()) kept.append(", ");
      kept.append(protocol.data(), protocol.size());
    }
  }
  if (!kept.empty()) append_field(out, "Sec-WebSocket-Protocol", kept);
}

template <class Extra>
void append_filtered(const boost::beast::http::fields& from, std::string& out, Extra&& extra_skip) {
  auto named = tokens_of_connection(from);
  for (const auto& f : from) {
    auto name = f.name();
    if (name != field::unknown &&
        std::find(kHopByHop.begin(), kHopByHop.end(), name) != kHopByHop.end())
      continue;
    if (extra_skip(f)) continue;
    if (std::any_of(named.begin(), named.end(),
                    [&](string_view t) { return boost::beast::iequals(t, f.name_string()); }))
      continue;
    append_field(out, f.name_string(), f.value());
  }
}

}  // namespace

void append_request_headers(const boost::beast::http::fields& from, std::string& out,
                            const upstream_head_options& options) {
  append_filtered(from, out, [&](const auto& f) {
    auto name = f.name();
    if (options.identity_encoding && name == field::accept_encoding) return true;
    if (!options.content_type.empty() && name == field::content_type) return true;
    if (name == field::sec_websocket_protocol) return true;  // appended below, filtered
    // AWS's signing headers (x-amz-date, x-amz-security-token, ...): a client's would be
    // credentials, or would break the gateway's own signature to Bedrock.
    if (name == field::unknown && f.name_string().size() > 6 &&
        boost::beast::iequals(f.name_string().substr(0, 6), "x-amz-"))
      return true;
    if (!options.request_id.empty() && boost::beast::iequals(f.name_string(), "x-request-id"))
      return true;
    if (name != field::unknown &&
        std::find(kRequestOnly.begin(), kRequestOnly.end(), name) != kRequestOnly.end())
      return true;
    return name == field::unknown &&
           std::any_of(kRequestOnlyByName.begin(), kRequestOnlyByName.end(),
                       [&](string_view c) { return boost::beast::iequals(c, f.name_string()); });
  });
}

void append_response_headers(const boost::beast::http::fields& from, std::string& out) {
  append_filtered(from, out, [](const auto& f) {
    auto name = f.name_string();
    return std::find(kResponseOnly.begin(), kResponseOnly.end(), f.name()) != kResponseOnly.end() ||
           (name.size() >= 7 && boost::beast::iequals(name.substr(0, 7), "x-aigw-"));
  });
}

errc finish_upstream_request_head(std::string_view method,
                                  const boost::beast::http::fields& client_headers,
                                  const upstream::target& target, std::size_t target_start,
                                  std::uint64_t body_size, std::string& out,
                                  const upstream_head_options& options) {
  // Whatever the adapter wrote, the request line ends here: a byte that could end the
  // target, the line or the message early (or a fragment, never sent on the wire) would
  // let a client write its own request to the backend, with the gateway's credentials.
  auto target_bytes = std::string_view(out).substr(target_start);
  if (target_bytes.find_first_of(std::string_view(" #\r\n\0", 5)) != std::string_view::npos)
    return errc::bad_request;
  out.append(" HTTP/1.1\r\n");
  append_request_headers(client_headers, out, options);
  if (options.identity_encoding) append_field(out, "Accept-Encoding", "identity");
  if (!options.content_type.empty()) append_field(out, "Content-Type", options.content_type);
  if (!options.request_id.empty()) append_field(out, "x-request-id", options.request_id);
  if (options.websocket) {
    append_field(out, "Connection", "Upgrade");
    append_field(out, "Upgrade", "websocket");
  }
  append_websocket_protocols(client_headers, out);
  append_field(out, "Host", target.host_header);
  if (!target.credential_name.empty())
    append_field(out, target.credential_name, target.credential_value);
  out.append(options.extra_fields);
  bool method_has_body = method == "POST" || method == "PUT" || method == "PATCH";
  if (body_size > 0 || method_has_body) {
    char digits[24];
    auto end = fmt::format_to(digits, "{}", body_size);
    append_field(out, "Content-Length", string_view(digits, static_cast<size_t>(end - digits)));
  }
  out.append("\r\n", 2);
  return errc::ok;
}

void write_client_response_head(unsigned status, std::string_view reason,
                                const boost::beast::http::fields& upstream_headers,
                                body_framing framing, std::uint64_t content_length, bool keep_alive,
                                unsigned client_version, std::string& out,
                                std::string_view gateway_fields) {
  out.clear();
  if (reason.empty()) {
    auto standard =
        boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(status));
    reason = std::string_view(standard.data(), standard.size());
  }
  fmt::format_to(std::back_inserter(out), "HTTP/1.1 {} {}\r\n", status, reason);
  append_response_headers(upstream_headers, out);
  out.append(gateway_fields);
  if (framing == body_framing::content_length) {
    char digits[24];
    auto end = fmt::format_to(digits, "{}", content_length);
    append_field(out, "Content-Length", string_view(digits, static_cast<size_t>(end - digits)));
  } else if (framing == body_framing::chunked) {
    append_field(out, "Transfer-Encoding", "chunked");
  }
  if (!keep_alive)
    append_field(out, "Connection", "close");
  else if (client_version < 11)
    append_field(out, "Connection", "keep-alive");
  out.append("\r\n", 2);
}

bool is_acceptable_transfer_encoding(string_view value) noexcept {
  return boost::beast::iequals(value, "chunked");
}

bool is_websocket_upgrade(const boost::beast::http::request_header<>& request) noexcept {
  if (request.method() != boost::beast::http::verb::get || request.version() != 11) return false;
  if (!boost::beast::iequals(request[field::upgrade], "websocket")) return false;
  for (const auto& f : request)
    if (f.name() == field::connection)
      for (auto token : boost::beast::http::token_list{f.value()})
        if (boost::beast::iequals(token, "upgrade")) return true;
  return false;
}

void write_client_switching_head(const boost::beast::http::response_header<>& upstream,
                                 std::string& out) {
  out.clear();
  out.append("HTTP/1.1 101 Switching Protocols\r\n");
  append_response_headers(upstream, out);
  append_field(out, "Connection", "Upgrade");
  append_field(out, "Upgrade", upstream[field::upgrade]);
  out.append("\r\n", 2);
}

}  // namespace aigw::proxy
