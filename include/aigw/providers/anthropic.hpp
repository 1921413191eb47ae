#pragma once
// Translation between OpenAI's chat completions and Anthropic's Messages API, as pure
// functions over whole JSON documents (Boost.JSON): the request, the response, and errors.
// The adapter and the stream stage of `schema: anthropic` are built on these (issue 12).
#include <cstdint>
#include <string>
#include <string_view>

#include "aigw/json/usage_scan.hpp"

namespace aigw::providers::anthropic {

struct request_options {
  // max_tokens is required by Anthropic; this when the client gives neither max_tokens nor
  // max_completion_tokens.
  std::uint32_t default_max_tokens = 4096;
};

// An OpenAI chat completions request body as an Anthropic Messages one, into `out`:
//   system and developer messages -> `system`; user, assistant and tool messages -> alternating
//   user/assistant turns (consecutive ones of a role merged; tool results are user turns);
//   text and image parts (data: URLs as base64, others as URL sources); tool_calls ->
//   tool_use blocks; tools, tool_choice (parallel_tool_calls: false included); max_tokens or
//   max_completion_tokens; stop -> stop_sequences; temperature (at most 1), top_p, stream;
//   reasoning_effort -> thinking with a budget; response_format -> an instruction in system;
//   user -> metadata.user_id.
// Returns "" on success, else why it cannot be translated (a client error: 400).
std::string chat_to_messages(std::string_view openai_body, const request_options& options,
                             std::string& out);

// An Anthropic message (a non-streamed response) as an OpenAI chat.completion, into `out`:
// text blocks joined as the content, tool_use blocks as tool_calls, thinking as
// reasoning_content, stop_reason as finish_reason, usage with cache reads and writes counted
// as prompt tokens (cache reads also as cached_tokens); the counts into `usage` too when
// given. Returns false when it is not one.
bool message_to_chat(std::string_view anthropic_body, std::int64_t created, std::string& out,
                     json::usage_reading* usage = nullptr);

// The status an OpenAI client gets for an Anthropic error status: Anthropic's 529
// (overloaded_error) becomes 503, which OpenAI clients retry; the others are the same.
constexpr unsigned openai_status(unsigned status) noexcept {
  return status == 529 ? 503 : status;
}

// An Anthropic error response in OpenAI's error shape, into `out`; returns the status to
// send (openai_status).
unsigned error_to_openai(unsigned status, std::string_view anthropic_body, std::string& out);

// OpenAI's finish_reason for an Anthropic stop_reason, and the other way round.
std::string_view finish_reason(std::string_view stop_reason) noexcept;
std::string_view stop_reason(std::string_view finish_reason) noexcept;

// The reverse, for Anthropic's clients (POST /v1/messages) in front of an OpenAI-compatible
// backend: a Messages request as a chat completions one, into `out`, with `model` as the
// model:
//   system (a string or text blocks) -> a system message; text and image blocks (base64 as
//   data: URLs) -> content parts; tool_use blocks -> tool_calls; tool_result blocks -> tool
//   messages, before the rest of their turn; thinking blocks are dropped (the backend did not
//   write them); tools (custom ones) -> functions, tool_choice, disable_parallel_tool_use ->
//   parallel_tool_calls; max_tokens, stop_sequences, temperature, top_p, metadata.user_id ->
//   user; thinking's budget -> reasoning_effort; stream -> stream with usage asked for.
// Returns "" on success, else why it cannot be translated (a client error: 400).
std::string messages_to_chat(std::string_view anthropic_body, std::string_view model,
                             std::string& out);

// An OpenAI chat.completion as an Anthropic message, into `out` (and its counts into `usage`
// when given). Returns false when it is not one.
bool chat_to_message(std::string_view openai_body, std::string& out,
                     json::usage_reading* usage = nullptr);

// An OpenAI-shaped error body in Anthropic's shape, into `out`.
void error_to_anthropic(unsigned status, std::string_view openai_body, std::string& out);

}  // namespace aigw::providers::anthropic
