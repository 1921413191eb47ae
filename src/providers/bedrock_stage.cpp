#include "aigw/providers/bedrock_stage.hpp"

#include <algorithm>
#include <ctime>

#include <fmt/format.h>

#include <boost/beast/http/field.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "aigw/json/converse_event.hpp"
#include "aigw/json/model_extractor.hpp"
#include "aigw/providers/bedrock.hpp"

namespace aigw::providers::bedrock {
namespace {

namespace http = boost::beast::http;

bool is_id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

}  // namespace

void chat_stage::prepare(bool include_usage, std::string_view model) {
  include_usage_ = include_usage;
  model_name_.assign(model);
  model_ = boost::json::serialize(boost::json::value(model));  // once per request
}

void chat_stage::start(const http::response_header<>& head) {
  done_ = stopped_ = false;
  frames_.reset();
  chunks_.reset();
  tool_block_ = ~std::uint64_t(0);
  tool_calls_ = 0;
  // The answer's id: AWS's request id (letters, digits and dashes; anything else is dropped).
  auto request_id = head["x-amzn-requestid"];
  id_.assign("\"chatcmpl-");
  for (char c : request_id.substr(0, 64))
    if (is_id_char(c)) id_.push_back(c);
  id_.push_back('"');
  auto error_type = head["x-amzn-errortype"];
  error_type_.assign(error_type.data(), std::min<std::size_t>(error_type.size(), 256));
}

void chat_stage::client_head(http::response_header<>& head) {
  if (kind_ == kind::stream)
    head.set(http::field::content_type, "text/event-stream");
  else if (kind_ != kind::off)
    head.set(http::field::content_type, "application/json");
}

void chat_stage::stream_data(std::string_view bytes) {
  auto status = frames_.feed(bytes, [&](const proxy::event_stream_message& m) { event(m); });
  if (status != proxy::event_stream_decoder::status::ok && !failed_) {
    // The failure path: a message of its own (describe's sentences need no escapes).
    auto message = fmt::format("\"the Bedrock event stream is malformed: {}\"",
                               proxy::event_stream_decoder::describe(status));
    fail(message, "invalid_event_stream");
  }
}

// The body ended before the metadata event: done if the message had stopped (and no frame
// was left half-read), else cut short.
void chat_stage::end_stream() {
  if (done_) return;
  if (frames_.pending() > 0) {
    fail(R"("the Bedrock event stream ended inside a frame")", "truncated");
  } else if (!stopped_) {
    fail(R"("the Bedrock event stream ended before its messageStop")", "incomplete_stream");
  } else {
    chunk_writer::done(out_);
    done_ = true;
  }
}

void chat_stage::end_message(std::string_view body, bool over) {
  auto id = std::string_view(id_).substr(1, id_.size() - 2);
  if (over || !converse_to_chat(body, id, model_name_,
                                static_cast<std::int64_t>(std::time(nullptr)), out_, &usage_)) {
    untranslatable_ = true;
    error_to_openai("BedrockError", R"({"message":"the Bedrock answer could not be translated"})",
                    out_);
  }
}

void chat_stage::end_error(std::string_view body) {
  error_to_openai(error_type_, body, out_);
}

void chat_stage::fail(std::string_view message_token, std::string_view type) {
  chunk_writer::error(out_, message_token, type);
  failed_ = true;
}

// Each event-stream message as it completes.
void chat_stage::event(const proxy::event_stream_message& m) {
  if (failed_ || done_) return;
  data_.reserve(m.payload.size() + json::parse_padding);
  data_.assign(m.payload);
  json::converse_event e;
  bool read = json::read_converse_event(data_, e);
  auto message_type = m.header(":message-type");
  if (message_type == "exception" || message_type == "error") {
    auto type = m.header(":exception-type");
    if (type.empty()) type = m.header(":error-code");
    bool plain = !type.empty() && type.size() <= 64 &&
                 std::all_of(type.begin(), type.end(), [](char c) { return is_id_char(c); });
    fail(read && e.message.size() >= 2 ? e.message : R"("the Bedrock backend reported an error")",
         plain ? type : "BedrockError");
    return;
  }
  if (!read) return;
  auto type = m.header(":event-type");
  if (!chunks_.started()) {  // messageStart, or whatever came first
    chunks_.start(id_, model_);
    chunks_.role(out_);
  }
  if (type == "contentBlockStart") {
    if (e.tool_name.size() < 2) return;
    tool_block_ = e.index;
    chunks_.tool_start(out_, tool_calls_++, e.tool_id, e.tool_name);
  } else if (type == "contentBlockDelta") {
    if (e.text.size() > 2)
      chunks_.content(out_, e.text);
    else if (e.reasoning.size() > 2)
      chunks_.reasoning(out_, e.reasoning);
    else if (e.tool_input.size() > 2 && e.index == tool_block_)
      chunks_.tool_arguments(out_, tool_calls_ - 1, e.tool_input);
  } else if (type == "messageStop") {
    chunks_.finish(out_, finish_reason(e.stop_reason));
    stopped_ = true;
  } else if (type == "metadata") {
    if (e.input >= 0 || e.output >= 0) {
      auto value = [](std::int64_t n) { return static_cast<std::uint64_t>(n < 0 ? 0 : n); };
      usage_.found = true;
      usage_.cached_input = value(e.cache_read);
      usage_.cache_creation_input = value(e.cache_write);
      usage_.input = value(e.input) + usage_.cached_input + usage_.cache_creation_input;
      usage_.output = value(e.output);
      usage_.model = model_name_;
      if (include_usage_) chunks_.usage(out_, usage_);
    }
    chunk_writer::done(out_);
    done_ = true;
  }
}

}  // namespace aigw::providers::bedrock
