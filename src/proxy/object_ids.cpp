#include "aigw/proxy/object_ids.hpp"

#include <algorithm>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
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

// The key of a scoped keyless backend's ids: random, once per process.
const digest& process_secret() {
  static const digest secret = [] {
    digest d;
    if (RAND_bytes(d.data(), static_cast<int>(d.size())) != 1) std::abort();
    return d;
  }();
  return secret;
}

}  // namespace

object_ids::object_ids(const config::gateway& config) {
  on_ = config.object_affinity;
  if (!on_) return;
  scoped_ = config.requires_keys() && !config.object_affinity_shared;
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
      if (master)
        k.key = hmac(*master, name);
      else if (scoped_ && api_key.empty())  // the name alone is public: not a key for owners
        k.key = hmac(process_secret(), name);
      else
        k.key = sha256(std::string(kDomain) + name + '\0' + api_key);
      derived_->keys.push_back(k);
    }
  });
  return derived_->keys;
}

std::array<char, 16> object_ids::mac(const backend_key& b, std::string_view id,
                                     std::string_view owner) const {
  // Scoped, the owner's name and a NUL (no name has one) before the id; else the id alone,
  // so that ids minted before client keys were configured still read.
  auto full =
      owner.empty() ? hmac(b.key, id) : hmac(b.key, std::string(owner) + '\0' + std::string(id));
  std::array<char, 16> out;
  for (std::size_t i = 0; i < 8; ++i) {
    out[2 * i] = kHex[full[i] >> 4];
    out[2 * i + 1] = kHex[full[i] & 0xf];
  }
  return out;
}

void object_ids::mint(std::string_view id, std::size_t backend, std::string& out,
                      std::string_view owner) const {
  const auto& b = keys()[backend];
  out.append(id);
  out.push_back('~');
  for (int shift = 28; shift >= 0; shift -= 4) out.push_back(kHex[(b.name_hash >> shift) & 0xf]);
  auto m = mac(b, id, scoped_ ? owner : std::string_view());
  out.append(m.data(), m.size());
}

std::optional<object_ids::decoded> object_ids::decode(std::string_view tagged,
                                                      std::string_view owner) const {
  if (!on_ || !has_object_tag(tagged)) return std::nullopt;
  const auto& backends = keys();
  auto id = tagged.substr(0, tagged.size() - kObjectTagSize);
  auto tag = tagged.substr(id.size() + 1);
  std::uint32_t name_hash = 0;
  for (auto c : tag.substr(0, 8))
    name_hash = (name_hash << 4) | static_cast<std::uint32_t>(hex_value(c));
  for (std::size_t i = 0; i < backends.size(); ++i) {
    if (backends[i].name_hash != name_hash) continue;
    auto m = mac(backends[i], id, scoped_ ? owner : std::string_view());
    if (CRYPTO_memcmp(m.data(), tag.data() + 8, m.size()) == 0) return decoded{id, i};
  }
  return std::nullopt;
}

void object_ids::restore(std::string_view rest, std::string_view query, std::string_view body,
                         std::span<const std::pair<std::size_t, std::size_t>> body_ids,
                         request_ids& out, std::string_view owner, bool untagged_references) const {
  if (!on_) return;
  if (scoped_ && untagged_references) out.foreign = true;
  using spans = std::vector<std::pair<std::size_t, std::size_t>>;  // [begin, end) of each id
  // Copies `text` into `copy` without the tags of the genuine ids among `ids`; `copy` stays
  // empty when there is none. Scoped, a piece that names an object and is not the owner's
  // makes the request foreign: in a path, any segment but the API's words; elsewhere, any
  // value shaped like a tag.
  auto strip = [&](std::string_view text, const spans& ids, std::string& copy, bool path) {
    std::size_t done = 0;
    for (auto [begin, end] : ids) {
      auto piece = text.substr(begin, end - begin);
      auto found = decode(piece, owner);
      if (!found) {
        if (scoped_ && (path ? !is_api_path_word(piece) : has_object_tag(piece)))
          out.foreign = true;
        continue;
      }
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
  if (scoped_ || rest.find('~') != std::string_view::npos)
    strip(rest, pieces(rest, '/', false), out.rest, true);
  if (query.find('~') != std::string_view::npos)
    strip(query, pieces(query, '&', true), out.query, false);
  if (!body_ids.empty()) {
    spans strings;  // inside the quotes
    for (auto [open, close] : body_ids) strings.emplace_back(open + 1, close);
    strip(body, strings, out.body, false);
  }
}

}  // namespace aigw::proxy
