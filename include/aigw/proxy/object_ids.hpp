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
#include <array>
#include <cstdint>
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
  // On when the config asks for it (object_affinity, the default) and has several backends:
  // with one, every object is on it anyway and ids pass unchanged.
  explicit object_ids(const config::gateway& config);

  bool enabled() const noexcept { return !backends_.empty(); }

  // Appends `id` with the tag naming backend `backend`.
  void mint(std::string_view id, std::size_t backend, std::string& out) const;

  struct decoded {
    std::string_view id;  // the backend's own id
    std::size_t backend;
  };
  // The backend an id names, when its tag is genuine.
  std::optional<decoded> decode(std::string_view tagged) const;

  // A request's ids: the backend that the first genuine one names, in its path after /v1
  // (`rest`, segment by segment) or among its body's tagged strings (the quote offsets that
  // json::request_fields::tagged_ids holds). `rest_out` and `body_out` get the path and the
  // body with every genuine tag removed, each only when it had one (else left empty): the
  // backend is sent its own ids. Forged and foreign ids stay as they are.
  std::optional<std::size_t> restore(std::string_view rest, std::string_view body,
                                     std::span<const std::pair<std::size_t, std::size_t>> body_ids,
                                     std::string& rest_out, std::string& body_out) const;

 private:
  struct backend_key {
    std::uint32_t name_hash;
    std::array<unsigned char, 32> key;  // HMAC key for this backend's ids
  };
  std::array<char, 16> mac(const backend_key& b, std::string_view id) const;
  std::vector<backend_key> backends_;  // by backend index
};

}  // namespace aigw::proxy
