#pragma once
// Reads one chat.completion.chunk (the data of one SSE event of an OpenAI stream), in place,
// with simdjson On-Demand: what a translation into Anthropic's stream events needs of it.
// Strings that go out again (ids, text, tool names and arguments) are given as their raw
// JSON tokens, quotes and escapes included, to be spliced without unescaping and escaping
// again. Only choice 0 is read (an Anthropic message has one).
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace aigw::json {

struct chat_chunk {
  struct tool_call {
    std::uint64_t index = 0;
    std::string_view id, name, arguments;  // raw tokens; empty when absent
  };
  bool error = false;              // {"error":...}: the backend reports a failure
  std::string_view error_message;  // its message's raw token
  std::string_view id, model;      // raw tokens
  std::string_view content;        // choice 0's delta.content (raw token)
  std::string_view reasoning;      // ... delta.reasoning_content or delta.reasoning
  std::string_view finish_reason;  // plain, empty while null
  // Tool call deltas: a stream sends one per chunk; more than fit are not read.
  std::array<tool_call, 8> tool_calls;
  std::size_t tool_call_count = 0;
  // usage: -1 when not given.
  std::int64_t prompt_tokens = -1, completion_tokens = -1, cached_tokens = -1;
};

// Reads `data` (which needs parse_padding spare capacity, model_extractor.hpp) into `out`;
// the views point into `data`. Returns false when it is not a JSON object.
bool read_chat_chunk(const std::string& data, chat_chunk& out);

}  // namespace aigw::json
