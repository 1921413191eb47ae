#pragma once
// The response of a Bedrock backend as an OpenAI client expects it (`schema: bedrock`): a
// transforming response stage, run on every attempt that went to such a backend.
//   - A ConverseStream answer (application/vnd.amazon.eventstream): its binary frames are
//     decoded as they arrive (proxy::event_stream_decoder: both CRCs checked, a message at
//     most 1 MiB) and each event becomes OpenAI chunks: the role at messageStart, text,
//     reasoning and tool call deltas, finish_reason at messageStop, at metadata the usage
//     chunk (when the client asked for it) and [DONE]. An exception message, or a frame that
//     fails its checks, becomes OpenAI's error event and ends the stream as cut.
//   - A Converse answer becomes a chat.completion (bedrock::converse_to_chat), an error body
//     (x-amzn-ErrorType and {"message"}) OpenAI's error shape; both held whole, within a bound.
// The client gets text/event-stream or application/json; the provider's own counts are
// reported (reported_usage) whether or not the client asked for them.
#include <cstdint>
#include <string>

#include "aigw/json/usage_scan.hpp"
#include "aigw/providers/chunk_writer.hpp"
#include "aigw/providers/translating_stage.hpp"
#include "aigw/proxy/event_stream.hpp"

namespace aigw::providers::bedrock {

class chat_stage final : public translating_stage {
 public:
  chat_stage() : translating_stage("application/vnd.amazon.eventstream") {}
  // Before each attempt to a Bedrock backend: whether the client asked for a usage chunk, and
  // the model its answer names (Converse answers name none).
  void prepare(bool include_usage, std::string_view model);
  void client_head(boost::beast::http::response_header<>& head) override;

 private:
  void start(const boost::beast::http::response_header<>& head) override;
  void stream_data(std::string_view bytes) override;
  void end_stream() override;
  void end_message(std::string_view body, bool over) override;
  void end_error(std::string_view body) override;
  void event(const proxy::event_stream_message& message);
  void fail(std::string_view message_token, std::string_view type);

  bool include_usage_ = false;
  bool done_ = false;
  bool stopped_ = false;    // messageStop came
  std::string model_;       // the model, as a JSON string token
  std::string model_name_;  // ... and as a name, for the usage
  std::string id_;          // "chatcmpl-<the AWS request id>", as a JSON string token
  std::string error_type_;  // x-amzn-ErrorType
  proxy::event_stream_decoder frames_;
  std::string data_;  // an event's payload, with the parser's padding
  chunk_writer chunks_;
  std::uint64_t tool_block_ = ~std::uint64_t(0);
  unsigned tool_calls_ = 0;
};

}  // namespace aigw::providers::bedrock
