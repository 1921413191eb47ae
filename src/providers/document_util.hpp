#pragma once
// Pieces the whole-document translations (providers/anthropic.cpp, bedrock.cpp) share, over
// Boost.JSON values.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

namespace aigw::providers::document {

// A string member's text; empty when absent or not a string.
inline std::string_view text_of(const boost::json::value* v) {
  return v && v->is_string() ? std::string_view(v->as_string()) : std::string_view();
}

// A count member as a whole number; 0 when absent, negative or not a number.
inline std::uint64_t count_of(const boost::json::value* v) {
  boost::system::error_code ec;
  auto n = v && v->is_number() ? v->to_number<std::uint64_t>(ec) : 0;
  return ec ? 0 : n;
}

// Appends a turn of `role` with `blocks`, merged into the last turn when it has the same
// role (Anthropic and Bedrock want user and assistant turns to alternate).
inline void add_turn(boost::json::array& messages, std::string_view role,
                     boost::json::array blocks) {
  if (blocks.empty()) return;
  if (!messages.empty() && text_of(messages.back().as_object().if_contains("role")) == role) {
    auto& content = messages.back().as_object()["content"].as_array();
    for (auto& b : blocks) content.push_back(std::move(b));
    return;
  }
  messages.push_back({{"role", role}, {"content", std::move(blocks)}});
}

// The parts of an OpenAI request both translations read the same way. Each returns "" on
// success, else why the request cannot be translated (a client error).

// A tool call of an assistant message: its id, its function's name, and its arguments
// parsed (a JSON object; none: {}).
std::string read_tool_call(const boost::json::value& call, std::string_view& id,
                           std::string_view& name, boost::json::value& input);
// max_completion_tokens, else max_tokens, into `out` (left as it is when neither is given).
std::string read_max_tokens(const boost::json::object& request, std::uint64_t& out);
// `stop` as a list of sequences; nullopt when absent.
std::optional<boost::json::value> stop_sequences(const boost::json::object& request);
// response_format as an instruction for the system prompt (for APIs without such a field);
// "" when there is none.
std::string format_instruction(const boost::json::object& request);

}  // namespace aigw::providers::document
