#include "aigw/proxy/usage_stage.hpp"

#include <algorithm>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>

#include "aigw/json/model_extractor.hpp"

namespace aigw::proxy {
namespace {

namespace http = boost::beast::http;

// Whether an event's data holds a usage object ("usage":{...}, not "usage":null): only those
// are parsed.
bool carries_usage(std::string_view data) {
  for (auto at = data.find("\"usage\""); at != std::string_view::npos;
       at = data.find("\"usage\"", at + 7)) {
    auto next = data.find_first_not_of(" \t\r\n:", at + 7);
    if (next != std::string_view::npos && data[next] == '{') return true;
  }
  return false;
}

}  // namespace

bool reports_usage(std::string_view rest) noexcept {
  return rest == "/chat/completions" || rest == "/completions" || rest == "/embeddings" ||
         rest == "/responses" || rest == "/messages";
}

void usage_stage::on_head(const http::response_header<>& head) {
  out_.clear();
  scanned_ = 0;
  mode_ = mode::off;
  complete_ = false;
  over_ = false;
  first_byte_ = {};
  data_events_ = 0;
  usage_.reset();
  events_.reset();
  held_.clear();
  if (held_.capacity() > (256u << 10)) std::string().swap(held_);
  if (head.result_int() < 200 || head.result_int() > 299) return;
  auto type = head[http::field::content_type];
  std::string_view content_type(type.data(), type.size());
  if (is_media_type(content_type, "text/event-stream"))
    mode_ = mode::sse;
  else if (is_media_type(content_type, "application/json"))
    mode_ = mode::json;
}

void usage_stage::on_data(std::string_view bytes) {
  if (bytes.empty()) return;
  if (first_byte_ == clock::time_point{}) first_byte_ = clock::now();
  switch (mode_) {
    case mode::off:
      return;
    case mode::json:
      if (source_) return;
      if (over_ || held_.size() + bytes.size() > kMaxHeld) {
        over_ = true;
        return;
      }
      held_.append(bytes);
      return;
    case mode::sse:
      if (forced_) {
        held_.append(bytes);
        take_events();
        return;
      }
      // (After a translating stage, it counts the tokens; only the events are counted here.)
      events_.feed(bytes, [&](std::string_view, std::string_view data) {
        if (!data.empty() && data != "[DONE]") ++data_events_;
        if (!source_ && carries_usage(data)) read(data);
      });
      return;
  }
}

// Forced usage: each complete event (up to its blank line) goes to out_, but the usage-only
// chunk is read and dropped, and every `"usage":null` the option added is removed (inside
// the JSON a quote is always escaped, so these bytes can only be that field). An event
// without an end in sight past the bound is passed on as it is.
void usage_stage::take_events() {
  std::size_t start = 0;
  for (;;) {
    auto from = std::max(start, scanned_ > 2 ? scanned_ - 2 : 0);
    auto past = find_event_end(held_, from);
    if (past == std::string::npos) break;
    std::string_view event(held_.data() + start, past - start);
    auto data_at = event.find("data:");
    std::string_view data =
        data_at == std::string_view::npos ? std::string_view() : event.substr(data_at);
    if (!data.empty() && data.find("[DONE]") == std::string_view::npos) ++data_events_;
    if (carries_usage(data)) {
      auto json_at = data.find('{');
      auto json_end = data.rfind('}');
      if (json_at != std::string_view::npos && json_end != std::string_view::npos)
        read(data.substr(json_at, json_end + 1 - json_at));
    }
    bool usage_only = carries_usage(data) && data.find("\"choices\":[]") != std::string_view::npos;
    if (!usage_only) {
      for (std::size_t at = 0;;) {
        auto null_at = event.find("\"usage\":null", at);
        if (null_at == std::string_view::npos) {
          out_.append(event.substr(at));
          break;
        }
        // ,"usage":null or "usage":null, : the field and one comma go.
        if (null_at > at && event[null_at - 1] == ',') {
          out_.append(event.substr(at, null_at - 1 - at));
          at = null_at + 12;
        } else {
          out_.append(event.substr(at, null_at - at));
          at = null_at + 12;
          if (at < event.size() && event[at] == ',') ++at;
        }
      }
    }
    start = past;
  }
  held_.erase(0, start);
  scanned_ = held_.size();
  if (held_.size() > kMaxHeld) {  // no event end in sight: relayed as it came
    out_.append(held_);
    held_.clear();
    scanned_ = 0;
  }
}

void usage_stage::on_end(bool complete) {
  complete_ = complete;
  if (forced_ && mode_ == mode::sse && complete) {  // an unterminated last event
    out_.append(held_);
    held_.clear();
  }
  if (source_) {
    if (const auto* reported = source_->reported_usage()) usage_ = *reported;
    return;
  }
  if (complete && mode_ == mode::json && !over_) {
    held_.reserve(held_.size() + json::parse_padding);  // read in place
    json::read_usage(held_, usage_);
  }
}

void usage_stage::head_fields(std::string& out) const {
  if (!usage_.found) return;
  out.append("x-aigw-usage-input: ").append(std::to_string(usage_.input)).append("\r\n");
  out.append("x-aigw-usage-output: ").append(std::to_string(usage_.output)).append("\r\n");
}

void usage_stage::read(std::string_view json) {
  scratch_.reserve(json.size() + json::parse_padding);
  scratch_.assign(json);
  json::read_usage(scratch_, usage_);
}

}  // namespace aigw::proxy
