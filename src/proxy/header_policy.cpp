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

// Also dropped from requests: set by the gateway per backend, or answered by it.
constexpr std::array kRequestOnly = {field::host, field::expect, field::authorization};
// Credential headers without a Beast field enum.
constexpr std::array<string_view, 2> kClientCredentials = {"api-key", "x-api-key"};

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

// The Azure OpenAI operations that run on one deployment.
bool is_deployment_path(std::string_view rest) {
  for (std::string_view p : {"/chat/completions", "/completions", "/embeddings"})
    if (rest == p) return true;
  return rest.starts_with("/images/") || rest.starts_with("/audio/");
}

}  // namespace

void append_request_headers(const boost::beast::http::fields& from, std::string& out) {
  append_filtered(from, out, [](const auto& f) {
    auto name = f.name();
    if (name != field::unknown &&
        std::find(kRequestOnly.begin(), kRequestOnly.end(), name) != kRequestOnly.end())
      return true;
    return std::any_of(kClientCredentials.begin(), kClientCredentials.end(),
                       [&](string_view c) { return boost::beast::iequals(c, f.name_string()); });
  });
}

void append_response_headers(const boost::beast::http::fields& from, std::string& out) {
  append_filtered(from, out, [](const auto&) { return false; });
}

void write_upstream_request_head(const upstream_request_line& line,
                                 const boost::beast::http::fields& client_headers,
                                 const upstream::target& target, std::size_t body_size,
                                 std::string& out) {
  out.clear();
  out.append(line.method).append(" ").append(target.base_path);
  if (target.schema == config::schema::azure_openai) {
    // Azure serves each model as a deployment, addressed in the path, with a required
    // api-version (a client's own api-version wins).
    if (is_deployment_path(line.rest))
      out.append("/openai/deployments/").append(target.deployment_for(line.model));
    else
      out.append("/openai");
    out.append(line.rest).append(line.query);
    if (line.query.find("api-version=") == std::string_view::npos)
      out.append(line.query.empty() ? "?" : "&").append("api-version=").append(target.api_version);
  } else {
    out.append(line.rest).append(line.query);
  }
  out.append(" HTTP/1.1\r\n");
  append_request_headers(client_headers, out);
  append_field(out, "Host", target.host_header);
  if (!target.credential_name.empty())
    append_field(out, target.credential_name, target.credential_value);
  bool method_has_body = line.method == "POST" || line.method == "PUT" || line.method == "PATCH";
  if (body_size > 0 || method_has_body) {
    char digits[24];
    auto end = fmt::format_to(digits, "{}", body_size);
    append_field(out, "Content-Length", string_view(digits, static_cast<size_t>(end - digits)));
  }
  out.append("\r\n", 2);
}

void write_client_response_head(unsigned status, std::string_view reason,
                                const boost::beast::http::fields& upstream_headers,
                                body_framing framing, std::uint64_t content_length, bool keep_alive,
                                unsigned client_version, std::string& out) {
  out.clear();
  if (reason.empty()) {
    auto standard =
        boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(status));
    reason = std::string_view(standard.data(), standard.size());
  }
  fmt::format_to(std::back_inserter(out), "HTTP/1.1 {} {}\r\n", status, reason);
  append_response_headers(upstream_headers, out);
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

}  // namespace aigw::proxy
