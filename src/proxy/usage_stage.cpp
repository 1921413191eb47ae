#include "aigw/proxy/usage_stage.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>

#include "aigw/json/model_extractor.hpp"

namespace aigw::proxy {
namespace {

namespace http = boost::beast::http;

bool has_media_type(std::string_view content_type, std::string_view type) {
  return content_type.size() >= type.size() &&
         boost::beast::iequals(content_type.substr(0, type.size()), type) &&
         (content_type.size() == type.size() || content_type[type.size()] == ';' ||
          content_type[type.size()] == ' ');
}

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
         rest == "/responses";
}

void usage_stage::on_head(const http::response_header<>& head) {
  mode_ = mode::off;
  complete_ = false;
  over_ = false;
  first_byte_ = {};
  usage_ = {};
  events_ = {};
  held_.clear();
  if (held_.capacity() > (256u << 10)) std::string().swap(held_);
  if (head.result_int() < 200 || head.result_int() > 299) return;
  auto type = head[http::field::content_type];
  std::string_view content_type(type.data(), type.size());
  if (has_media_type(content_type, "text/event-stream"))
    mode_ = mode::sse;
  else if (has_media_type(content_type, "application/json"))
    mode_ = mode::json;
}

void usage_stage::on_data(std::string_view bytes) {
  if (bytes.empty()) return;
  if (first_byte_ == clock::time_point{}) first_byte_ = clock::now();
  switch (mode_) {
    case mode::off:
      return;
    case mode::json:
      if (over_ || held_.size() + bytes.size() > kMaxHeld) {
        over_ = true;
        return;
      }
      held_.append(bytes);
      return;
    case mode::sse:
      events_.feed(bytes, [&](std::string_view, std::string_view data) {
        if (carries_usage(data)) read(data);
      });
      return;
  }
}

void usage_stage::on_end(bool complete) {
  complete_ = complete;
  if (complete && mode_ == mode::json && !over_) {
    held_.reserve(held_.size() + json::parse_padding);  // read in place
    json::read_usage(held_, usage_);
  }
}

void usage_stage::read(std::string_view json) {
  scratch_.reserve(json.size() + json::parse_padding);
  scratch_.assign(json);
  json::read_usage(scratch_, usage_);
}

}  // namespace aigw::proxy
