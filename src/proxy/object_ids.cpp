#include "aigw/proxy/object_ids.hpp"

#include <algorithm>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

namespace aigw::proxy {
namespace {

using digest = std::array<unsigned char, 32>;

constexpr std::string_view kDomain{"aigw-proxy object ids\0", 22};
constexpr char kHex[] = "0123456789abcdef";

digest sha256(std::string_view data) {
  digest out;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data());
  return out;
}

digest hmac(const digest& key, std::string_view data) {
  digest out;
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &size);
  return out;
}

int hex_value(char c) {
  return c <= '9' ? c - '0' : c - 'a' + 10;
}

}  // namespace

object_ids::object_ids(const config::gateway& config) {
  on_ = config.object_affinity;
  if (!on_) return;
  configured_key_ = config.object_affinity_key;
  for (const auto& b : config.backends) secrets_.emplace_back(b.name, b.api_key);
}

const std::vector<object_ids::backend_key>& object_ids::keys() const {
  std::call_once(derived_->once, [this] {
    // A backend's key depends on that backend alone (and the configured key), so adding or
    // removing another backend leaves its ids valid.
    std::optional<digest> master;
    if (!configured_key_.empty()) master = sha256(std::string(kDomain) + configured_key_);
    for (const auto& [name, api_key] : secrets_) {
      auto name_digest = sha256(name);
      backend_key k;
      k.name_hash = (std::uint32_t{name_digest[0]} << 24) | (std::uint32_t{name_digest[1]} << 16) |
                    (std::uint32_t{name_digest[2]} << 8) | std::uint32_t{name_digest[3]};
      k.key = master ? hmac(*master, name) : sha256(std::string(kDomain) + name + '\0' + api_key);
      derived_->keys.push_back(k);
    }
  });
  return derived_->keys;
}

std::array<char, 16> object_ids::mac(const backend_key& b, std::string_view id) const {
  auto full = hmac(b.key, id);
  std::array<char, 16> out;
  for (std::size_t i = 0; i < 8; ++i) {
    out[2 * i] = kHex[full[i] >> 4];
    out[2 * i + 1] = kHex[full[i] & 0xf];
  }
  return out;
}

void object_ids::mint(std::string_view id, std::size_t backend, std::string& out) const {
  const auto& b = keys()[backend];
  out.append(id);
  out.push_back('~');
  for (int shift = 28; shift >= 0; shift -= 4) out.push_back(kHex[(b.name_hash >> shift) & 0xf]);
  auto m = mac(b, id);
  out.append(m.data(), m.size());
}

std::optional<object_ids::decoded> object_ids::decode(std::string_view tagged) const {
  if (!on_ || !has_object_tag(tagged)) return std::nullopt;
  const auto& backends = keys();
  auto id = tagged.substr(0, tagged.size() - kObjectTagSize);
  auto tag = tagged.substr(id.size() + 1);
  std::uint32_t name_hash = 0;
  for (auto c : tag.substr(0, 8))
    name_hash = (name_hash << 4) | static_cast<std::uint32_t>(hex_value(c));
  for (std::size_t i = 0; i < backends.size(); ++i) {
    if (backends[i].name_hash != name_hash) continue;
    auto m = mac(backends[i], id);
    if (CRYPTO_memcmp(m.data(), tag.data() + 8, m.size()) == 0) return decoded{id, i};
  }
  return std::nullopt;
}

void object_ids::restore(std::string_view rest, std::string_view query, std::string_view body,
                         std::span<const std::pair<std::size_t, std::size_t>> body_ids,
                         request_ids& out) const {
  if (!on_) return;
  using spans = std::vector<std::pair<std::size_t, std::size_t>>;  // [begin, end) of each id
  // Copies `text` into `copy` without the tags of the genuine ids among `ids`; `copy` stays
  // empty when there is none.
  auto strip = [&](std::string_view text, const spans& ids, std::string& copy) {
    std::size_t done = 0;
    for (auto [begin, end] : ids) {
      auto found = decode(text.substr(begin, end - begin));
      if (!found) continue;
      if (!out.backend) out.backend = found->backend;
      if (copy.empty()) copy.reserve(text.size());
      copy.append(text.substr(done, begin + found->id.size() - done));
      done = end;
    }
    if (done > 0) copy.append(text.substr(done));
  };
  // The pieces of `text` between separators (path segments; query parameters' values).
  auto pieces = [](std::string_view text, char separator, bool values_only) {
    spans found;
    for (std::size_t start = 0; start < text.size();) {
      auto end = std::min(text.find(separator, start), text.size());
      auto begin = start;
      if (values_only) {
        auto eq = text.find('=', start);
        begin = eq < end ? eq + 1 : end;
      }
      if (end > begin) found.emplace_back(begin, end);
      start = end + 1;
    }
    return found;
  };
  if (rest.find('~') != std::string_view::npos) strip(rest, pieces(rest, '/', false), out.rest);
  if (query.find('~') != std::string_view::npos) strip(query, pieces(query, '&', true), out.query);
  if (!body_ids.empty()) {
    spans strings;  // inside the quotes
    for (auto [open, close] : body_ids) strings.emplace_back(open + 1, close);
    strip(body, strings, out.body);
  }
}

}  // namespace aigw::proxy
