#include "aigw/proxy/object_id_stage.hpp"

#include <array>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>

#include "aigw/json/model_extractor.hpp"
#include "aigw/json/object_scan.hpp"

namespace aigw::proxy {
namespace {

namespace http = boost::beast::http;

// What a stored object's "object" field says. Objects that live inside another (a thread's
// runs and messages, a vector store's files) are tagged too: their own paths start with the
// parent's id, which routes them, and their tags are simply removed again upstream.
constexpr std::array<std::string_view, 16> kStoredTypes = {"response",
                                                           "conversation",
                                                           "chat.completion",
                                                           "chat.completion.chunk",
                                                           "file",
                                                           "upload",
                                                           "batch",
                                                           "vector_store",
                                                           "vector_store.file",
                                                           "vector_store.file_batch",
                                                           "assistant",
                                                           "thread",
                                                           "thread.run",
                                                           "thread.message",
                                                           "fine_tuning.job",
                                                           "eval"};

bool is_path_under(std::string_view rest, std::string_view base) {
  return rest.starts_with(base) && (rest.size() == base.size() || rest[base.size()] == '/');
}

}  // namespace

bool returns_stored_objects(std::string_view rest, std::string_view method,
                            bool stored_chat_completion) noexcept {
  // Creating a chat completion stores it only when asked; listing them is about stored ones.
  if (rest == "/chat/completions") return method != "POST" || stored_chat_completion;
  for (std::string_view stateless :
       {"/completions", "/embeddings", "/moderations", "/images", "/audio", "/models", "/realtime"})
    if (is_path_under(rest, stateless)) return false;
  // A file's content is the user's data, whatever it looks like.
  return !rest.ends_with("/content");
}

void object_id_stage::on_head(const http::response_header<>& head) {
  // What a large response grew stays with the connection: give it back.
  for (auto* buffer : {&held_, &out_, &scratch_})
    if (buffer->capacity() > kKeptCapacity) std::string().swap(*buffer);
  held_.clear();
  out_.clear();
  scanned_ = 0;
  mode_ = mode::off;
  if (!ids_ || !ids_->mints() || head.result_int() < 200 || head.result_int() > 299) return;
  if (auto coding = head.find(http::field::content_encoding);
      coding != head.end() && !boost::beast::iequals(coding->value(), "identity"))
    return;
  auto type = head[http::field::content_type];
  std::string_view content_type(type.data(), type.size());
  if (is_media_type(content_type, "application/json"))
    mode_ = mode::json;
  else if (is_media_type(content_type, "text/event-stream"))
    mode_ = mode::sse;
}

void object_id_stage::on_data(std::string_view bytes) {
  switch (mode_) {
    case mode::off:
      return;
    case mode::passthrough:
      out_.append(bytes);
      return;
    case mode::json:
      if (held_.size() + bytes.size() > kMaxHeld) {  // too big to hold: relayed as it is
        mode_ = mode::passthrough;
        out_.append(held_);
        out_.append(bytes);
        held_.clear();
        return;
      }
      held_.append(bytes);
      return;
    case mode::sse:
      held_.append(bytes);
      take_lines();
      return;
  }
}

// Every complete line of held_ goes out: a `data:` line holding JSON with its ids tagged,
// any other line as it is. The incomplete last line stays held (bounded like a body).
void object_id_stage::take_lines() {
  std::size_t start = 0;
  // held_ before scanned_ has no line end (searched on an earlier call).
  for (std::size_t end; (end = held_.find('\n', std::max(start, scanned_))) != std::string::npos;
       start = end + 1) {
    std::string_view line(held_.data() + start, end + 1 - start);
    std::string_view content = line.substr(0, line.size() - 1);
    if (content.ends_with('\r')) content.remove_suffix(1);
    if (!content.starts_with("data:")) {
      out_.append(line);
      continue;
    }
    auto json_at = content.find_first_not_of(' ', 5);
    if (json_at == std::string_view::npos || content[json_at] != '{') {
      out_.append(line);
      continue;
    }
    out_.append(line.substr(0, json_at));
    rewrite(content.substr(json_at));
    out_.append(line.substr(content.size()));
  }
  held_.erase(0, start);
  scanned_ = held_.size();
  if (held_.size() > kMaxHeld) {  // no line end in sight: give up on this stream
    mode_ = mode::passthrough;
    out_.append(held_);
    held_.clear();
  }
}

void object_id_stage::on_end(bool complete) {
  if (!complete || mode_ == mode::off) return;
  if (mode_ == mode::json)
    rewrite(held_);
  else
    out_.append(held_);  // a stream's unterminated last line
  held_.clear();
}

void object_id_stage::rewrite(std::string_view json) {
  scratch_.reserve(json.size() + json::parse_padding);
  scratch_.assign(json);
  if (!json::find_object_ids(scratch_, kStoredTypes, found_) || found_.empty()) {
    out_.append(json);
    return;
  }
  std::size_t done = 0;
  for (auto [open, close] : found_) {
    out_.append(json.substr(done, open + 1 - done));
    ids_->mint(json.substr(open + 1, close - open - 1), backend_, out_, owner_);
    done = close;
  }
  out_.append(json.substr(done));
}

}  // namespace aigw::proxy
