#include "aigw/upstream/sigv4.hpp"

#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <ctime>

#include <fmt/format.h>

#include "aigw/core/percent_encoding.hpp"

namespace aigw::upstream {
namespace {

using digest = std::array<unsigned char, 32>;

std::string hex(const unsigned char* data, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (std::size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0xf];
  }
  return out;
}

digest hmac(std::string_view key, std::string_view data) {
  digest out{};
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &size);
  return out;
}

std::string_view as_view(const digest& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// A header value as signed: no leading or trailing spaces, inner runs of spaces as one.
std::string trimmed(std::string_view value) {
  std::string out;
  bool space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

// The sorted, lower-cased headers (repeats joined with ','), and their names joined by ';'.
std::pair<std::string, std::string> canonical_headers(const sigv4_request& request) {
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& [name, value] : request.headers)
    headers.emplace_back(lower(name), trimmed(value));
  std::stable_sort(headers.begin(), headers.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string lines, names;
  for (std::size_t i = 0; i < headers.size(); ++i) {
    if (i > 0 && headers[i].first == headers[i - 1].first) {
      lines.pop_back();  // the newline: the value joins the line before
      lines.append(",").append(headers[i].second).append("\n");
      continue;
    }
    lines.append(headers[i].first).append(":").append(headers[i].second).append("\n");
    if (!names.empty()) names.push_back(';');
    names.append(headers[i].first);
  }
  return {lines, names};
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  digest out{};
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data());
  return hex(out.data(), out.size());
}

std::string amz_date(std::chrono::system_clock::time_point t) {
  auto seconds = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[17];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &tm);
  return text;
}

std::string sigv4_canonical_request(const sigv4_request& request) {
  std::string out(request.method);
  out.push_back('\n');
  // The path, each segment encoded (once more: what went on the wire is encoded already).
  if (request.path.empty() || request.path == "/") {
    out.push_back('/');
  } else {
    std::size_t at = 0;
    while (at < request.path.size()) {
      auto slash = request.path.find('/', at);
      if (slash == at) {
        out.push_back('/');
        ++at;
        continue;
      }
      auto end = slash == std::string_view::npos ? request.path.size() : slash;
      percent_encode(request.path.substr(at, end - at), out);
      at = end;
    }
  }
  out.push_back('\n');
  // The query: every parameter encoded, sorted by name then value.
  std::vector<std::pair<std::string, std::string>> parameters;
  for (std::size_t at = 0; at < request.query.size();) {
    auto end = std::min(request.query.find('&', at), request.query.size());
    auto piece = request.query.substr(at, end - at);
    at = end + 1;
    if (piece.empty()) continue;
    auto eq = piece.find('=');
    std::string name, value;
    percent_encode(percent_decode(piece.substr(0, eq), false), name);
    if (eq != std::string_view::npos)
      percent_encode(percent_decode(piece.substr(eq + 1), false), value);
    parameters.emplace_back(std::move(name), std::move(value));
  }
  std::sort(parameters.begin(), parameters.end());
  for (std::size_t i = 0; i < parameters.size(); ++i)
    out.append(i ? "&" : "").append(parameters[i].first).append("=").append(parameters[i].second);
  out.push_back('\n');
  auto [lines, names] = canonical_headers(request);
  out.append(lines).append("\n").append(names).append("\n");
  out.append(sha256_hex(request.payload));
  return out;
}

std::string sigv4_authorization(const sigv4_request& request, const aws_credentials& credentials,
                                std::string_view region, std::string_view service,
                                std::string_view amz_date) {
  auto day = amz_date.substr(0, 8);
  auto scope = fmt::format("{}/{}/{}/aws4_request", day, region, service);
  auto string_to_sign = fmt::format("AWS4-HMAC-SHA256\n{}\n{}\n{}", amz_date, scope,
                                    sha256_hex(sigv4_canonical_request(request)));
  auto key = hmac("AWS4" + credentials.secret_access_key, day);
  key = hmac(as_view(key), region);
  key = hmac(as_view(key), service);
  key = hmac(as_view(key), "aws4_request");
  auto signature = hmac(as_view(key), string_to_sign);
  return fmt::format("AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={}, Signature={}",
                     credentials.access_key_id, scope, canonical_headers(request).second,
                     hex(signature.data(), signature.size()));
}

}  // namespace aigw::upstream
