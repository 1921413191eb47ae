#pragma once
// The shape of the tag that object affinity (proxy/object_ids.hpp) appends to the id of an
// object a backend stored: "~", 8 lower-case hex digits naming the backend, 16 of a MAC.
// Here alone so that the body scanner can spot tagged ids in a request (json module)
// without knowing about backends or keys.
#include <cstddef>
#include <string_view>

namespace aigw {

inline constexpr std::size_t kObjectTagSize = 25;

// Whether `id` ends with something shaped like a tag (not whether the tag is genuine).
inline bool has_object_tag(std::string_view id) noexcept {
  if (id.size() <= kObjectTagSize || id[id.size() - kObjectTagSize] != '~') return false;
  for (auto c : id.substr(id.size() - kObjectTagSize + 1))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace aigw
