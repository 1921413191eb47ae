#pragma once
// Reads the JSON payload of one Bedrock ConverseStream event (its type is the event-stream
// message's :event-type header), in place, with simdjson On-Demand: what a translation into
// OpenAI chunks needs of it. Strings that go out again are given as their raw JSON tokens
// (quotes and escapes included). Unknown members (the "p" padding AWS adds) are skipped.
#include <cstdint>
#include <string>
#include <string_view>

namespace aigw::json {

struct converse_event {
  std::uint64_t index = 0;       // contentBlockIndex
  std::string_view tool_id;      // contentBlockStart: start.toolUse.toolUseId (token)
  std::string_view tool_name;    // ... .name (token)
  std::string_view text;         // contentBlockDelta: delta.text (token)
  std::string_view tool_input;   // ... delta.toolUse.input: a piece of JSON, as a string token
  std::string_view reasoning;    // ... delta.reasoningContent.text (token)
  std::string_view stop_reason;  // messageStop: stopReason (plain)
  std::string_view message;      // an exception's message (token)
  // metadata: usage; -1 when not given.
  std::int64_t input = -1, output = -1, cache_read = -1, cache_write = -1;
};

// Reads `data` (which needs parse_padding spare capacity, model_extractor.hpp) into `out`;
// the views point into `data`. Returns false when it is not a JSON object.
bool read_converse_event(const std::string& data, converse_event& out);

}  // namespace aigw::json
