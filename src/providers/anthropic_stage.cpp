#include "aigw/providers/anthropic_stage.hpp"

#include <ctime>

#include <fmt/format.h>
#include <boost/beast/http/field.hpp>

#include "aigw/json/model_extractor.hpp"
#include "aigw/providers/anthropic.hpp"

namespace aigw::providers::anthropic {
namespace {

namespace http = boost::beast::http;

void append_number(std::string& out, std::int64_t n) {
  fmt::format_to(std::back_inserter(out), "{}", n);
}

}  // namespace

void chat_stage::start(const http::response_header<>&) {
  stopped_ = done_ = false;
  created_ = static_cast<std::int64_t>(std::time(nullptr));
  events_.reset();
  chunks_.reset();
  tool_block_ = ~std::uint64_t(0);
  tool_calls_ = 0;
  counts_ = {};
}

void chat_stage::client_head(http::response_header<>& head) {
  if (kind_ == kind::error && openai_status(status_) != status_) {
    head.result(openai_status(status_));
    head.reason({});  // the standard one for the new status
  }
  if (kind_ == kind::error || kind_ == kind::message)
    head.set(http::field::content_type, "application/json");
}

void chat_stage::stream_data(std::string_view bytes) {
  events_.feed(bytes, [&](std::string_view, std::string_view data) { event(data); });
}

// The body ended before message_stop: done if the message had stopped, else cut short.
void chat_stage::end_stream() {
  if (done_) return;
  if (stopped_) {
    chunk_writer::done(out_);
    done_ = true;
    return;
  }
  chunk_writer::error(out_, R"("the Anthropic stream ended before its message_stop")",
                      "incomplete_stream");
  failed_ = true;
}

void chat_stage::end_message(std::string_view body, bool over) {
  if (over || !message_to_chat(body, created_, out_, &usage_)) {
    untranslatable_ = true;
    error_to_openai(
        502,
        R"({"error":{"type":"api_error","message":"the Anthropic backend's message could not be translated"}})",
        out_);
  }
}

void chat_stage::end_error(std::string_view body) {
  error_to_openai(status_, body, out_);
}

// Each event as it completes: what it says, as OpenAI chunks.
void chat_stage::event(std::string_view data) {
  if (failed_) return;  // nothing after an error event
  data_.reserve(data.size() + json::parse_padding);
  data_.assign(data);
  json::anthropic_event e;
  if (!json::read_anthropic_event(data_, e)) return;  // not an event this translation knows
  using kind = json::anthropic_event::kind;
  using block = json::anthropic_event::block;
  switch (e.type) {
    case kind::message_start:
      chunks_.start(e.id, e.model);
      if (e.model.size() > 2) usage_.model.assign(e.model.substr(1, e.model.size() - 2));
      take_usage(e.usage);
      chunks_.role(out_);
      return;
    case kind::block_start:
      if (e.what != block::tool_use) return;  // text and thinking come with their deltas
      tool_block_ = e.index;
      chunks_.tool_start(out_, tool_calls_++, e.id, e.name);
      return;
    case kind::block_delta:
      if (e.text.size() <= 2) return;  // "" (or no text): nothing to send
      if (e.what == block::text)
        chunks_.content(out_, e.text);
      else if (e.what == block::thinking)
        chunks_.reasoning(out_, e.text);
      else if (e.what == block::tool_use && e.index == tool_block_)
        chunks_.tool_arguments(out_, tool_calls_ - 1, e.text);
      return;
    case kind::message_delta:
      take_usage(e.usage);
      if (!e.stop_reason.empty()) {
        chunks_.finish(out_, finish_reason(e.stop_reason));
        stopped_ = true;
      }
      return;
    case kind::message_stop:
      if (done_) return;
      if (include_usage_ && usage_.found) chunks_.usage(out_, usage_);
      chunk_writer::done(out_);
      done_ = true;
      return;
    case kind::error:
      // OpenAI's error event, with Anthropic's message; the relay then cuts the stream.
      chunk_writer::error(
          out_, e.message.size() >= 2 ? e.message : R"("the Anthropic backend reported an error")",
          e.error_type.empty() ? "api_error" : e.error_type);
      failed_ = true;
      return;
    case kind::block_stop:
    case kind::other:
      return;
  }
}

// Anthropic reports the input (and cache) counts at message_start
// each message_delta; OpenAI's prompt tokens count the cached ones too.
void chat_stage::take_usage(const json::anthropic_usage& u) {
  if (u.input >= 0) counts_.input = u.input;
  if (u.output >= 0) counts_.output = u.output;
  if (u.cache_read >= 0) counts_.cache_read = u.cache_read;
  if (u.cache_creation >= 0) counts_.cache_creation = u.cache_creation;
  auto value = [](std::int64_t n) { return static_cast<std::uint64_t>(n < 0 ? 0 : n); };
  if (counts_.input < 0 && counts_.output < 0) return;
  usage_.found = true;
  usage_.cached_input = value(counts_.cache_read);
  usage_.cache_creation_input = value(counts_.cache_creation);
  usage_.input = value(counts_.input) + usage_.cached_input + usage_.cache_creation_input;
  usage_.output = value(counts_.output);
}

}  // namespace aigw::providers::anthropic

namespace aigw::providers::anthropic {

void messages_stage::start(const http::response_header<>&) {
  started_ = finished_ = false;
  open_ = block::none;
  next_index_ = 0;
  tool_ = ~std::uint64_t(0);
  stop_reason_ = {};
  events_.reset();
}

void messages_stage::client_head(http::response_header<>& head) {
  if (kind_ == kind::error || kind_ == kind::message)
    head.set(http::field::content_type, "application/json");
}

void messages_stage::stream_data(std::string_view bytes) {
  events_.feed(bytes, [&](std::string_view, std::string_view data) { chunk(data); });
}

// The body ended without [DONE]: the end if the answer had finished, else cut short.
void messages_stage::end_stream() {
  if (finished_) return;
  if (started_ && !stop_reason_.empty()) {
    finish();
    return;
  }
  out_.append(
      "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\","
      "\"message\":\"the backend's stream ended before its answer did\"}}\n\n");
  failed_ = true;
}

void messages_stage::end_message(std::string_view body, bool over) {
  if (over || !chat_to_message(body, out_, &usage_)) {
    untranslatable_ = true;
    error_to_anthropic(
        502, R"({"error":{"message":"the backend's completion could not be translated"}})", out_);
  }
}

void messages_stage::end_error(std::string_view body) {
  error_to_anthropic(status_, body, out_);
}

void messages_stage::chunk(std::string_view data) {
  if (failed_ || finished_) return;
  if (data == "[DONE]") {
    if (started_) finish();
    return;
  }
  data_.reserve(data.size() + json::parse_padding);
  data_.assign(data);
  auto& c = chunk_;
  if (!json::read_chat_chunk(data_, c)) return;
  if (c.error) {  // Anthropic's error event; the relay then cuts the stream
    out_.append(
            "event: error\ndata: "
            "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":")
        .append(c.error_message.size() >= 2 ? c.error_message
                                            : R"("the backend reported an error")")
        .append("}}\n\n");
    failed_ = true;
    return;
  }
  if (!started_) start_message(c);
  if (c.reasoning.size() > 2) {
    if (open_ != block::thinking) {
      open_block(block::thinking, R"("type":"thinking","thinking":"","signature":"")");
      out_.append("}}\n\n");
    }
    delta("thinking_delta", "thinking", c.reasoning);
  }
  if (c.content.size() > 2) {
    if (open_ != block::text) {
      open_block(block::text, R"("type":"text","text":"")");
      out_.append("}}\n\n");
    }
    delta("text_delta", "text", c.content);
  }
  for (std::size_t i = 0; i < c.tool_call_count; ++i) {
    const auto& call = c.tool_calls[i];
    // A new call: another index, or another id (servers that repeat the id on every delta
    // of a call keep it in one block).
    bool new_call =
        open_ != block::tool || call.index != tool_ || (call.id.size() > 2 && call.id != tool_id_);
    if (new_call) {
      open_block(block::tool, R"("type":"tool_use","id":)");
      tool_id_.assign(call.id.size() > 2 ? call.id : std::string_view());
      if (tool_id_.empty()) {  // an id the client can answer with a tool_result
        tool_id_.assign("\"toolu_");
        fmt::format_to(std::back_inserter(tool_id_), "{}\"", next_index_);
      }
      out_.append(tool_id_);
      out_.append(R"(,"name":)").append(call.name.size() >= 2 ? call.name : R"("")");
      out_.append(R"(,"input":{}}})"
                  "\n\n");
      tool_ = call.index;
    }
    if (call.arguments.size() > 2) delta("input_json_delta", "partial_json", call.arguments);
  }
  if (!c.finish_reason.empty()) {
    stop_reason_ = stop_reason(c.finish_reason);
    close_block();
  }
  if (c.prompt_tokens >= 0 || c.completion_tokens >= 0) {
    usage_.found = true;
    usage_.input = static_cast<std::uint64_t>(std::max<std::int64_t>(c.prompt_tokens, 0));
    usage_.output = static_cast<std::uint64_t>(std::max<std::int64_t>(c.completion_tokens, 0));
    usage_.cached_input = static_cast<std::uint64_t>(std::max<std::int64_t>(c.cached_tokens, 0));
  }
}

void messages_stage::start_message(const json::chat_chunk& c) {
  started_ = true;
  out_.append("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":")
      .append(c.id.size() >= 2 ? c.id : R"("msg")");
  out_.append(R"(,"type":"message","role":"assistant","model":)")
      .append(c.model.size() >= 2 ? c.model : R"("")");
  if (c.model.size() > 2) usage_.model.assign(c.model.substr(1, c.model.size() - 2));
  out_.append(R"(,"content":[],"stop_reason":null,"stop_sequence":null,)"
              R"("usage":{"input_tokens":0,"output_tokens":0}}})"
              "\n\n");
}

void messages_stage::open_block(block kind, std::string_view start_fields) {
  close_block();
  open_ = kind;
  out_.append("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":");
  append_number(out_, next_index_);
  out_.append(R"(,"content_block":{)").append(start_fields);  // the caller closes it
}

void messages_stage::close_block() {
  if (open_ == block::none) return;
  out_.append("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":");
  append_number(out_, next_index_++);
  out_.append("}\n\n");
  open_ = block::none;
}

void messages_stage::delta(std::string_view type, std::string_view field, std::string_view token) {
  out_.append("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":");
  append_number(out_, next_index_);
  out_.append(R"(,"delta":{"type":")").append(type).append(R"(",")").append(field).append("\":");
  out_.append(token).append("}}\n\n");
}

// The end: the stop reason and the counts (Anthropic's input_tokens leave cache reads out).
void messages_stage::finish() {
  finished_ = true;
  close_block();
  auto cached = std::min(usage_.cached_input, usage_.input);
  out_.append(
          "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"")
      .append(stop_reason_.empty() ? "end_turn" : stop_reason_);
  out_.append(R"(","stop_sequence":null},"usage":{"input_tokens":)");
  append_number(out_, static_cast<std::int64_t>(usage_.input - cached));
  out_.append(R"(,"output_tokens":)");
  append_number(out_, static_cast<std::int64_t>(usage_.output));
  out_.append(R"(,"cache_read_input_tokens":)");
  append_number(out_, static_cast<std::int64_t>(cached));
  out_.append("}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
}

}  // namespace aigw::providers::anthropic
