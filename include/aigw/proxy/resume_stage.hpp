#pragma once
// Resuming a broken stream (a route's `resume: true`, for streamed chat completions): a
// transforming stage that sends the client whole SSE events only, so that when the backend
// breaks mid-answer the client has received complete events, at a chunk boundary, and the
// gateway knows the text it got. The attempt loop then sends a continuation request to the
// next target (the original messages, the text so far as an assistant message, and an
// instruction to go on), and this stage relays that stream's new deltas under the first
// stream's id, without its opening role-only delta: the client reads one answer.
//
// A stream with tool calls, several choices (n > 1) or logprobs is not resumable (its state
// is more than text). An error event from the backend (`data: {"error":...}`) counts as a
// break: it is not relayed, and the stage reports failed() so that the relay cuts there.
#include <string>
#include <string_view>

#include "aigw/json/stream_chunk.hpp"
#include "aigw/proxy/response_stage.hpp"

namespace aigw::proxy {

class resume_stage final : public response_stage {
 public:
  // At the start of a request whose stream may be resumed.
  void start();
  // Before a continuation attempt: its events are rewritten into the first stream.
  void continue_stream();

  // After a cut: whether the answer can go on elsewhere, and the text the client has.
  bool resumable() const noexcept { return resumable_ && !done_ && !original_id_.empty(); }
  // Whether the last response was an event stream it relayed (only those get an error event).
  bool watching() const noexcept { return active_; }
  const std::string& relayed_text() const noexcept { return relayed_; }

  void on_head(const boost::beast::http::response_header<>& head) override;
  void on_data(std::string_view bytes) override;
  void on_end(bool complete) override;
  std::string* output() override { return active_ ? &out_ : nullptr; }
  bool failed() const override { return failed_; }

  // The most text kept for a continuation (past it, the stream is not resumable), and the
  // longest event held while incomplete (past it, the bytes go on as they came).
  static constexpr std::size_t kMaxRelayed = 1u << 20;
  static constexpr std::size_t kMaxEvent = 1u << 20;

 private:
  void take_events();
  void event(std::string_view event);

  bool active_ = false;        // this response is an event stream being watched
  bool continuation_ = false;  // ... the continuation of a broken one
  bool resumable_ = true;
  bool failed_ = false;      // the backend sent an error event
  bool done_ = false;        // [DONE] went through: nothing to resume
  std::string held_;         // the incomplete event
  std::string out_;          // what the client gets
  std::string data_;         // an event's JSON, with the parser's padding
  std::string relayed_;      // the answer's text so far
  std::string scratch_;      // the text of a chunk not kept
  std::string original_id_;  // the first stream's "id" token, quotes included
  json::stream_chunk chunk_;
};

}  // namespace aigw::proxy
