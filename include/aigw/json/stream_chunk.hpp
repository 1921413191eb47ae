#pragma once
// Reads one chat.completion.chunk of a stream (the data of one SSE event), in place, with
// simdjson On-Demand: what a resumed stream needs to know of it (proxy/resume_stage.hpp).
#include <cstddef>
#include <string>
#include <utility>

namespace aigw::json {

struct stream_chunk {
  bool object = false;        // the data is a JSON object
  bool error = false;         // it has an "error" member: the backend reports a failure
  bool other_choice = false;  // a choice with an index other than 0 (n > 1)
  bool tool_calls = false;    // a delta with tool_calls or function_call
  bool logprobs = false;      // a choice with non-null logprobs
  bool role_only = false;     // choice 0's delta has a role and no content (a stream's first)
  // Offsets of the quotes around the "id" value; {0, 0} when there is none.
  std::pair<std::size_t, std::size_t> id_token{0, 0};
  // Choice 0's `"role":"..."` member: from its key's opening quote to its value's closing one.
  std::pair<std::size_t, std::size_t> role_member{0, 0};
};

// Reads `json` (which needs parse_padding spare capacity, model_extractor.hpp) into `out`,
// and appends choice 0's delta.content, unescaped, to `content`. Returns out.object.
bool read_stream_chunk(const std::string& json, stream_chunk& out, std::string& content);

}  // namespace aigw::json
