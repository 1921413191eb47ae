#include "aigw/proxy/header_policy.hpp"

#include <algorithm>
#include <array>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>

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

bool named_by_connection(const boost::beast::http::fields& from, string_view name) {
  for (auto it = from.find(field::connection); it != from.end() && it->name() == field::connection;
       ++it) {
    for (auto token : boost::beast::http::token_list{it->value()})
      if (boost::beast::iequals(token, name)) return true;
  }
  return false;
}

template <class Extra>
void copy_filtered(const boost::beast::http::fields& from, boost::beast::http::fields& to,
                   Extra&& extra_skip) {
  bool has_connection = from.find(field::connection) != from.end();
  for (const auto& f : from) {
    auto name = f.name();
    if (name != field::unknown &&
        std::find(kHopByHop.begin(), kHopByHop.end(), name) != kHopByHop.end())
      continue;
    if (extra_skip(f)) continue;
    if (has_connection && named_by_connection(from, f.name_string())) continue;
    to.insert(f.name_string(), f.value());
  }
}

}  // namespace

void copy_request_headers(const boost::beast::http::fields& from, boost::beast::http::fields& to) {
  copy_filtered(from, to, [](const auto& f) {
    auto name = f.name();
    if (name != field::unknown &&
        std::find(kRequestOnly.begin(), kRequestOnly.end(), name) != kRequestOnly.end())
      return true;
    return std::any_of(kClientCredentials.begin(), kClientCredentials.end(),
                       [&](string_view c) { return boost::beast::iequals(c, f.name_string()); });
  });
}

void copy_response_headers(const boost::beast::http::fields& from, boost::beast::http::fields& to) {
  copy_filtered(from, to, [](const auto&) { return false; });
}

bool is_acceptable_transfer_encoding(string_view value) noexcept {
  return boost::beast::iequals(value, "chunked");
}

}  // namespace aigw::proxy
