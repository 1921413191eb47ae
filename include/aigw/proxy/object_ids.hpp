#pragma once
// Object affinity: a stored object (a response, conversation, file, batch, ...) lives on the
// backend that made it, so a later request naming it must go there. Instead of a shared
// store, the id the client sees names that backend: the backend's id plus a tag
// (core/object_tag.hpp), "~" + 8 hex digits of the backend name's hash + 16 hex digits of an
// HMAC-SHA256 of the id under a per-backend key. Any replica with the same config reads it;
// it survives a reload while the backend keeps its name; a forged or foreign id fails the
// MAC and is routed as if it had no tag (and sent as it came).
//
// The key is `object_affinity_key` from the config, or else derived from the backends' names
// and keys (so replicas that share a config share it, and it is secret when a backend has a
// key). '~' is an unreserved URL character: a tagged id goes into a path unencoded.
//
// Owners: with client keys (`clients:`), an object belongs to the client that created it,
// unless `object_affinity: shared`. Its tag is then minted for every stored object (one
// backend too), and the MAC covers the owner's name as well as the id: a tag only reads as
// genuine for its owner. A request of a client must name every object by a tag of its own
// (request_ids::foreign otherwise), so a raw id, another client's tag or a forged one is
// never routed or sent. A keyless backend's ids are then keyed by a secret of the process
// (random at start, unless object_affinity_key is set): its name alone would be forgeable.
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aigw/config/config.hpp"
#include "aigw/core/object_tag.hpp"

namespace aigw::proxy {

class object_ids {
 public:
  object_ids() = default;  // off: mints nothing, decodes nothing
  // On when the config asks for it (object_affinity, the default).
  explicit object_ids(const config::gateway& config);

  // Whether responses get tagged ids: with several backends. With one, every object is on
  // it anyway and new ids pass unchanged; tagged ids that clients kept from a larger config
  // are still read (and their tags removed).
  bool mints() const noexcept { return on_ && (secrets_.size() > 1 || scoped_); }
  // Whether objects belong to the client that made them (client keys, not `shared`).
  bool scoped() const noexcept { return on_ && scoped_; }

  // Appends `id` with the tag naming backend `backend` (and, when scoped, `owner`).
  void mint(std::string_view id, std::size_t backend, std::string& out,
            std::string_view owner = {}) const;

  struct decoded {
    std::string_view id;  // the backend's own id
    std::size_t backend;
  };
  // The backend an id names, when its tag is genuine (for `owner`, when scoped).
  std::optional<decoded> decode(std::string_view tagged, std::string_view owner = {}) const;

  // A request's ids, and what it sends upstream without their tags.
  struct request_ids {
    std::optional<std::size_t> backend;  // the backend the first genuine id names
    // Each only when it had a genuine tag (else left empty): the backend gets its own ids.
    std::string rest, query, body;
    // Scoped: a path segment that is no API word (core/object_tag.hpp), or an id in a body
    // reference field, is not a genuine tag of the owner. Such a request is refused.
    bool foreign = false;
  };
  // Looks in the path after /v1 (`rest`, segment by segment), the query's values ("" or
  // "?...": a list's `after` cursor), and the body's reference fields (the quote offsets that
  // json::request_fields::tagged_ids holds). Forged and foreign ids stay as they are.
  // Scoped, `owner` is the caller, and `untagged_references` says the body names an object by
  // an id without a tag.
  void restore(std::string_view rest, std::string_view query, std::string_view body,
               std::span<const std::pair<std::size_t, std::size_t>> body_ids, request_ids& out,
               std::string_view owner = {}, bool untagged_references = false) const;

 private:
  struct backend_key {
    std::uint32_t name_hash;
    std::array<unsigned char, 32> key;  // HMAC key for this backend's ids
  };
  // The keys are derived on first use, not at start-up: the hashing would load OpenSSL's
  // provider machinery (megabytes of resident pages) into a gateway that may never see a
  // stored object.
  const std::vector<backend_key>& keys() const;
  std::array<char, 16> mac(const backend_key& b, std::string_view id, std::string_view owner) const;
  bool on_ = false;
  bool scoped_ = false;
  // What each backend's key is derived from (its name, then its api_key or the configured key).
  std::vector<std::pair<std::string, std::string>> secrets_;
  std::string configured_key_;
  struct derived {
    std::once_flag once;
    std::vector<backend_key> keys;  // by backend index
  };
  std::shared_ptr<derived> derived_ = std::make_shared<derived>();
};

}  // namespace aigw::proxy
