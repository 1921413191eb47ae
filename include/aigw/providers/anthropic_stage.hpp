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
#include "aigw/proxy/response_stage.hpp"
#include "aigw/proxy/sse_scanner.hpp"

namespace aigw::providers::anthropic {

class chat_stage final : public proxy::response_stage {
 public:
  // Before each attempt to an Anthropic backend: whether the client asked for a usage chunk.
  void prepare(bool include_usage) noexcept { include_usage_ = include_usage; }

  void on_head(const boost::beast::http::response_header<>& head) override;
  void client_head(boost::beast::http::response_header<>& head) override;
  void on_data(std::string_view bytes) override;
  void on_end(bool complete) override;
  std::string* output() override { return mode_ == mode::off ? nullptr : &out_; }
  bool failed() const override { return failed_; }
  bool wrote_error_event() const override { return failed_; }
  const json::usage_reading* reported_usage() const override {
    return usage_.found ? &usage_ : nullptr;
  }

  // The largest message held to translate (past it, the client gets a 502-like error body),
  // and the largest error body kept.
  static constexpr std::size_t kMaxMessage = 16u << 20;
  static constexpr std::size_t kMaxError = 64u << 10;

 private:
  enum class mode { off, stream, message, error };
  void event(std::string_view data);
  void take_usage(const json::anthropic_usage& usage);

  mode mode_ = mode::off;
  bool include_usage_ = false;
  bool failed_ = false;
  bool over_ = false;
  bool stopped_ = false;  // message_delta gave the stop reason
  bool done_ = false;     // [DONE] went out
  unsigned status_ = 0;
  std::int64_t created_ = 0;
  proxy::sse_scanner events_;
  std::string held_;                              // a whole JSON body (message or error)
  std::string data_;                              // an event's data, with the parser's padding
  chunk_writer chunks_;                           // the message's id and model (tokens)
  std::string out_;                               // what the client gets
  std::uint64_t tool_block_ = ~std::uint64_t(0);  // the content block of the current tool call
  unsigned tool_calls_ = 0;                       // tool calls started so far
  json::anthropic_usage counts_;                  // the provider's counts so far
  json::usage_reading usage_;
};

// The reverse, for Anthropic's clients (POST /v1/messages) in front of an OpenAI-compatible
// backend: chat.completion.chunk events become message_start, a content block per text,
// thinking (reasoning_content) or tool call (content_block_start, _delta, _stop),
// message_delta with the stop reason and the usage (the request asked the backend for it),
// and message_stop; a chat.completion becomes a message (anthropic::chat_to_message), an
// error body Anthropic's error shape with the same status. Like chat_stage: event by event,
// raw tokens spliced, the provider's counts reported.
class messages_stage final : public proxy::response_stage {
 public:
  void on_head(const boost::beast::http::response_header<>& head) override;
  void client_head(boost::beast::http::response_header<>& head) override;
  void on_data(std::string_view bytes) override;
  void on_end(bool complete) override;
  std::string* output() override { return mode_ == mode::off ? nullptr : &out_; }
  bool failed() const override { return failed_; }
  bool wrote_error_event() const override { return failed_; }
  const json::usage_reading* reported_usage() const override {
    return usage_.found ? &usage_ : nullptr;
  }

  static constexpr std::size_t kMaxMessage = chat_stage::kMaxMessage;
  static constexpr std::size_t kMaxError = chat_stage::kMaxError;

 private:
  enum class mode { off, stream, message, error };
  enum class block { none, text, thinking, tool };
  void chunk(std::string_view data);
  void start_message(const json::chat_chunk& c);
  // Closes the open block and begins content_block_start up to `start_fields`; the caller
  // appends the rest of the block's fields and "}}\n\n".
  void open_block(block kind, std::string_view start_fields);
  void close_block();
  void delta(std::string_view type, std::string_view field, std::string_view token);
  void finish();

  mode mode_ = mode::off;
  bool failed_ = false;
  bool over_ = false;
  bool started_ = false;
  bool finished_ = false;
  unsigned status_ = 0;
  block open_ = block::none;
  unsigned next_index_ = 0;                 // the next content block's index
  std::uint64_t tool_ = ~std::uint64_t(0);  // the OpenAI index of the open tool call
  std::string tool_id_;                     // ... and its id, as a JSON string token
  std::string_view stop_reason_;            // a static string (anthropic::stop_reason)
  proxy::sse_scanner events_;
  std::string held_;
  std::string data_;
  std::string out_;
  json::chat_chunk chunk_;
  json::usage_reading usage_;
};

}  // namespace aigw::providers::anthropic
