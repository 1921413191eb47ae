#pragma once
// The response of an Anthropic backend as an OpenAI client expects it (`schema: anthropic`):
// a transforming response stage (proxy/response_stage.hpp), run on every attempt that went
// to such a backend.
//   - A stream: Anthropic's events, each as it completes, become chat.completion.chunk
//     events: the role at message_start, text, thinking (as reasoning_content) and tool
//     call deltas (the call's id and name first, then its arguments piece by piece),
//     finish_reason at message_delta, at message_stop the usage chunk (when the client
//     asked for stream_options.include_usage) and [DONE]. `ping` and unknown events are
//     skipped; an `error` event becomes OpenAI's error event and ends the stream as cut.
//     Strings are spliced as the JSON tokens they came as (no unescape, no escape), and at
//     most one incomplete event is held (sse_scanner's bound).
//   - A JSON message becomes a chat.completion (anthropic::message_to_chat), an error body
//     OpenAI's error shape with its status mapped (529 becomes 503); both held whole, within
//     a bound, and translated at their end.
// The provider's own token counts are reported (reported_usage), whether or not the client
// asked for them, so usage accounting never depends on what the client gets.
#include <cstdint>
#include <string>

#include "aigw/json/anthropic_event.hpp"
#include "aigw/json/chat_chunk.hpp"
#include "aigw/json/usage_scan.hpp"
#include "aigw/providers/chunk_writer.hpp"
#include "aigw/providers/translating_stage.hpp"
#include "aigw/proxy/sse_scanner.hpp"

namespace aigw::providers::anthropic {

class chat_stage final : public translating_stage {
 public:
  chat_stage() : translating_stage("text/event-stream") {}
  // Before each attempt to an Anthropic backend: whether the client asked for a usage chunk.
  void prepare(bool include_usage) noexcept { include_usage_ = include_usage; }
  void client_head(boost::beast::http::response_header<>& head) override;

 private:
  void start(const boost::beast::http::response_header<>& head) override;
  void stream_data(std::string_view bytes) override;
  void end_stream() override;
  void end_message(std::string_view body, bool over) override;
  void end_error(std::string_view body) override;
  void event(std::string_view data);
  void take_usage(const json::anthropic_usage& usage);

  bool include_usage_ = false;
  bool stopped_ = false;  // message_delta gave the stop reason
  bool done_ = false;     // [DONE] went out
  std::int64_t created_ = 0;
  proxy::sse_scanner events_;
  std::string data_;                              // an event's data, with the parser's padding
  chunk_writer chunks_;                           // the message's id and model (tokens)
  std::uint64_t tool_block_ = ~std::uint64_t(0);  // the content block of the current tool call
  unsigned tool_calls_ = 0;                       // tool calls started so far
  json::anthropic_usage counts_;                  // the provider's counts so far
};

// The reverse, for Anthropic's clients (POST /v1/messages) in front of an OpenAI-compatible
// backend: chat.completion.chunk events become message_start, a content block per text,
// thinking (reasoning_content) or tool call (content_block_start, _delta, _stop),
// message_delta with the stop reason and the usage (the request asked the backend for it),
// and message_stop; a chat.completion becomes a message (anthropic::chat_to_message), an
// error body Anthropic's error shape with the same status. Like chat_stage: event by event,
// raw tokens spliced, the provider's counts reported.
class messages_stage final : public translating_stage {
 public:
  messages_stage() : translating_stage("text/event-stream") {}
  void client_head(boost::beast::http::response_header<>& head) override;

 private:
  void start(const boost::beast::http::response_header<>& head) override;
  void stream_data(std::string_view bytes) override;
  void end_stream() override;
  void end_message(std::string_view body, bool over) override;
  void end_error(std::string_view body) override;
  enum class block { none, text, thinking, tool };
  void chunk(std::string_view data);
  void start_message(const json::chat_chunk& c);
  // Closes the open block and begins content_block_start up to `start_fields`; the caller
  // appends the rest of the block's fields and "}}\n\n".
  void open_block(block kind, std::string_view start_fields);
  void close_block();
  void delta(std::string_view type, std::string_view field, std::string_view token);
  void finish();

  bool started_ = false;
  bool finished_ = false;
  block open_ = block::none;
  unsigned next_index_ = 0;                 // the next content block's index
  std::uint64_t tool_ = ~std::uint64_t(0);  // the OpenAI index of the open tool call
  std::string tool_id_;                     // ... and its id, as a JSON string token
  std::string_view stop_reason_;            // a static string (anthropic::stop_reason)
  proxy::sse_scanner events_;
  std::string data_;
  json::chat_chunk chunk_;
};

}  // namespace aigw::providers::anthropic
