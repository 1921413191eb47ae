#include "aigw/proxy/resume_stage.hpp"

#include "aigw/json/model_extractor.hpp"
#include "aigw/proxy/sse_scanner.hpp"

namespace aigw::proxy {

void resume_stage::start() {
  // A connection that once carried a large stream gives its buffers back.
  for (auto* buffer : {&held_, &out_, &data_, &relayed_, &scratch_})
    if (buffer->capacity() > (256u << 10)) std::string().swap(*buffer);
  active_ = false;
  continuation_ = false;
  resumable_ = true;
  relayed_.clear();
  original_id_.clear();
}

void resume_stage::continue_stream() {
  continuation_ = true;
}

void resume_stage::on_head(const boost::beast::http::response_header<>& head) {
  auto type = head[boost::beast::http::field::content_type];
  active_ =
      head.result_int() == 200 && is_media_type({type.data(), type.size()}, "text/event-stream");
  failed_ = false;
  done_ = false;
  held_.clear();
  out_.clear();
  if (!active_) resumable_ = false;
}

void resume_stage::on_data(std::string_view bytes) {
  if (failed_) return;  // the relay cuts the stream here
  held_.append(bytes);
  take_events();
}

void resume_stage::on_end(bool complete) {
  if (complete && !failed_) out_.append(held_);  // an unterminated last event
  held_.clear();
}

// Each complete event (up to its blank line) is looked at and goes to out_; an event without
// an end in sight past the bound goes on as it is, and the stream is no longer resumable.
void resume_stage::take_events() {
  std::size_t start = 0;
  while (!failed_) {
    auto past = find_event_end(held_, start);
    if (past == std::string::npos) break;
    event(std::string_view(held_).substr(start, past - start));
    start = past;
  }
  held_.erase(0, start);
  if (held_.size() > kMaxEvent) {
    out_.append(held_);
    held_.clear();
    resumable_ = false;
  }
}

void resume_stage::event(std::string_view event) {
  auto json_at = event.find('{');
  auto json_end = event.rfind('}');
  if (json_at == std::string_view::npos || json_end == std::string_view::npos ||
      json_end < json_at) {
    if (event.find("[DONE]") != std::string_view::npos) done_ = true;
    out_.append(event);  // [DONE], a comment, a keep-alive
    return;
  }
  auto json = event.substr(json_at, json_end + 1 - json_at);
  data_.reserve(json.size() + json::parse_padding);
  data_.assign(json);
  bool keep_text = resumable_ && relayed_.size() < kMaxRelayed;
  scratch_.clear();
  if (!json::read_stream_chunk(data_, chunk_, keep_text ? relayed_ : scratch_)) {
    out_.append(event);
    return;
  }
  if (chunk_.error) {  // the backend gives up mid-answer: a break, not relayed
    failed_ = true;
    return;
  }
  if (chunk_.tool_calls || chunk_.other_choice || chunk_.logprobs || !keep_text) resumable_ = false;
  auto [id_open, id_close] = chunk_.id_token;
  bool has_id = id_close > id_open;
  if (!continuation_) {
    if (original_id_.empty() && has_id)
      original_id_.assign(json.substr(id_open, id_close + 1 - id_open));
    out_.append(event);
    return;
  }
  // A continuation: its opening role-only delta is not news to the client (nor the role in
  // a first delta that has content), and its id is the first stream's.
  if (chunk_.role_only) return;
  struct splice {
    std::size_t from, to;  // event offsets, `to` past the end
    std::string_view with;
  };
  splice splices[2];
  std::size_t count = 0;
  if (has_id && !original_id_.empty())
    splices[count++] = {json_at + id_open, json_at + id_close + 1, original_id_};
  if (auto [role_at, role_end] = chunk_.role_member; role_end > role_at) {
    // The member and one comma next to it.
    std::size_t from = json_at + role_at, to = json_at + role_end + 1;
    if (to < event.size() && event[to] == ',')
      ++to;
    else if (from > 0 && event[from - 1] == ',')
      --from;
    splices[count++] = {from, to, {}};
  }
  if (count == 2 && splices[1].from < splices[0].from) std::swap(splices[0], splices[1]);
  std::size_t at = 0;
  for (std::size_t i = 0; i < count; ++i) {
    out_.append(event.substr(at, splices[i].from - at));
    out_.append(splices[i].with);
    at = splices[i].to;
  }
  out_.append(event.substr(at));
}

}  // namespace aigw::proxy
