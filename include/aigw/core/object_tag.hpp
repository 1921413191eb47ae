#pragma once
// The shape of the tag that object affinity (proxy/object_ids.hpp) appends to the id of an
// object a backend stored: "~", 8 lower-case hex digits naming the backend, 16 of a MAC.
// Here alone so that the body scanner can spot tagged ids in a request (json module)
// without knowing about backends or keys.
#include <algorithm>
#include <array>
#include <cstddef>
#include <iterator>
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

// The words of the OpenAI and Anthropic API paths (after /v1): every other segment of a path
// names a stored object (/files/{id}/content). With objects scoped to their owners
// (proxy/object_ids.hpp), such a segment must be the owner's tagged id, so a path word this
// list lacks is refused there until it is added: a new API fails closed, never open.
inline constexpr std::string_view kApiPathWords[] = {"accept",
                                                     "alpha",
                                                     "assistants",
                                                     "audio",
                                                     "batches",
                                                     "calls",
                                                     "cancel",
                                                     "chat",
                                                     "checkpoints",
                                                     "client_secrets",
                                                     "compact",
                                                     "complete",
                                                     "completions",
                                                     "containers",
                                                     "content",
                                                     "conversations",
                                                     "count_tokens",
                                                     "edits",
                                                     "embeddings",
                                                     "evals",
                                                     "events",
                                                     "file_batches",
                                                     "files",
                                                     "fine_tuning",
                                                     "generations",
                                                     "graders",
                                                     "hangup",
                                                     "images",
                                                     "input_items",
                                                     "input_tokens",
                                                     "items",
                                                     "jobs",
                                                     "messages",
                                                     "models",
                                                     "moderations",
                                                     "parts",
                                                     "pause",
                                                     "permissions",
                                                     "realtime",
                                                     "refer",
                                                     "reject",
                                                     "remix",
                                                     "responses",
                                                     "results",
                                                     "resume",
                                                     "run",
                                                     "runs",
                                                     "search",
                                                     "sessions",
                                                     "skills",
                                                     "speech",
                                                     "steps",
                                                     "submit_tool_outputs",
                                                     "threads",
                                                     "transcription_sessions",
                                                     "transcriptions",
                                                     "translations",
                                                     "uploads",
                                                     "validate",
                                                     "variations",
                                                     "vector_stores",
                                                     "versions",
                                                     "videos",
                                                     "voices",
                                                     "output_items"};

inline bool is_api_path_word(std::string_view segment) noexcept {
  return std::find(std::begin(kApiPathWords), std::end(kApiPathWords), segment) !=
         std::end(kApiPathWords);
}

// Whether every segment of `rest` (a path after /v1) is a word of the API: a GET of such a
// path lists objects (/files, /chat/completions), one with an id reads one.
inline bool names_no_object(std::string_view rest) noexcept {
  for (std::size_t start = 0; start < rest.size();) {
    auto end = std::min(rest.find('/', start), rest.size());
    if (end > start && !is_api_path_word(rest.substr(start, end - start))) return false;
    start = end + 1;
  }
  return true;
}

}  // namespace aigw
