#pragma once
// The shape of the tag that object affinity (proxy/object_ids.hpp) appends to the id of an
// object a backend stored: "~", 8 lower-case hex digits naming the backend, 16 of a MAC.
// Here alone so that the body scanner can spot tagged ids in a request (json module)
// without knowing about backends or keys.
#include <algorithm>
#include <array>
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

// The JSON fields that name a stored object: a string id, an array of them (`file_ids`), or
// the object itself (`"conversation": {"id": ...}`). In a request, only ids in these fields
// (and in the path and query) choose a backend: an id quoted in a prompt or in metadata
// does not. In a response, these are tagged along with the `id` of each stored object.
inline constexpr std::array<std::string_view, 17> kObjectReferenceKeys = {
    "previous_response_id",
    "conversation",
    "conversation_id",
    "response_id",
    "file_id",
    "file_ids",
    "input_file_id",
    "output_file_id",
    "error_file_id",
    "vector_store_id",
    "vector_store_ids",
    "thread_id",
    "assistant_id",
    "batch_id",
    "upload_id",
    "first_id",
    "last_id"};  // a list page's cursors

inline bool is_object_reference_key(std::string_view key) noexcept {
  return std::find(kObjectReferenceKeys.begin(), kObjectReferenceKeys.end(), key) !=
         kObjectReferenceKeys.end();
}

}  // namespace aigw
