#pragma once
// Translation between OpenAI's chat completions and AWS Bedrock's Converse API, as pure
// functions over whole JSON documents (Boost.JSON): the request, the response, and errors.
// The stream (ConverseStream) is translated event by event by bedrock::chat_stage.
#include <cstdint>
#include <string>
#include <string_view>

#include "aigw/json/usage_scan.hpp"

namespace aigw::providers::bedrock {

// An OpenAI chat completions body as a Converse (or ConverseStream) body, into `out`:
//   system and developer messages -> `system` text blocks; user, assistant and tool messages
//   -> alternating user/assistant turns (consecutive ones merged; tool results are user
//   turns of toolResult blocks); text parts, images as data: URLs (png, jpeg, gif, webp) ->
//   image blocks of bytes; tool_calls -> toolUse blocks; tools -> toolConfig.tools,
//   tool_choice -> toolConfig.toolChoice (auto, any, tool; none drops the choice);
//   max_tokens or max_completion_tokens (else `default_max_tokens` when not 0), temperature,
//   top_p, stop -> inferenceConfig; response_format -> an instruction in system.
// Returns "" on success, else why it cannot be translated (a client error: 400).
std::string chat_to_converse(std::string_view openai_body, std::uint32_t default_max_tokens,
                             std::string& out);

// A Converse response as an OpenAI chat.completion for `model`, into `out` (its counts into
// `usage` when given): text blocks joined as the content, reasoningContent as
// reasoning_content, toolUse blocks as tool_calls, stopReason as finish_reason, usage with
// cache reads and writes counted as prompt tokens. Returns false when it is not one.
bool converse_to_chat(std::string_view body, std::string_view id, std::string_view model,
                      std::int64_t created, std::string& out, json::usage_reading* usage = nullptr);

// A Bedrock error (its x-amzn-ErrorType header, e.g. "ThrottlingException:http://...", and
// its {"message": ...} body) in OpenAI's error shape, into `out`.
void error_to_openai(std::string_view error_type, std::string_view body, std::string& out);

// OpenAI's finish_reason for a Converse stopReason.
std::string_view finish_reason(std::string_view stop_reason) noexcept;

}  // namespace aigw::providers::bedrock
