#pragma once
// Reads one event of an Anthropic Messages stream (the data of one SSE event), in place,
// with simdjson On-Demand: what a translation into OpenAI chunks needs of it. Strings that
// go out again (ids, names, text deltas, tool arguments) are given as their raw JSON tokens,
// quotes and escapes included, so the translation splices them without unescaping and
// escaping again: an event costs no allocation beyond the chunk it becomes.
#include <cstdint>
#include <string>
#include <string_view>

namespace aigw::json {

// Token counts an event reports; -1 for a count it does not give (message_delta gives the
// output so far, message_start the input and cache counts).
struct anthropic_usage {
  std::int64_t input = -1;
  std::int64_t output = -1;
  std::int64_t cache_read = -1;
  std::int64_t cache_creation = -1;
};

struct anthropic_event {
  enum class kind {
    other,  // ping, and types this reader does not know (skipped, as the API asks)
    message_start,
    block_start,
    block_delta,
    block_stop,
    message_delta,
    message_stop,
    error,
  };
  // A content block's type (block_start) or a delta's (block_delta).
  enum class block { other, text, tool_use, thinking };

  kind type = kind::other;
  block what = block::other;
  std::uint64_t index = 0;  // the content block's index
  // Raw JSON string tokens ("..." with escapes), empty when absent.
  std::string_view id;       // message_start: the message's id; block_start: the tool call's
  std::string_view model;    // message_start
  std::string_view name;     // block_start of a tool_use: the tool's name
  std::string_view text;     // block_delta: the text, the thinking, or the arguments' piece
  std::string_view message;  // error: its message
  // Plain values (no escapes in them, checked).
  std::string_view stop_reason;  // message_delta
  std::string_view error_type;   // error
  anthropic_usage usage;
};

// Reads `data` (which needs parse_padding spare capacity, model_extractor.hpp) into `out`;
// the views point into `data`. Returns false when it is not a JSON object with a string
// "type".
bool read_anthropic_event(const std::string& data, anthropic_event& out);

}  // namespace aigw::json
