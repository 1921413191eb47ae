#pragma once
// What the stages that translate a backend's answer into the client's API share: the
// answer's kind, from its head (an error status; a stream of the provider's media type; a
// JSON message), a message or error body held whole within a bound and translated at its
// end, the output the relay sends, failure, and the provider's own token counts. A schema's
// stage (Anthropic's, Bedrock's, OpenAI's for Anthropic clients) says what a stream's bytes,
// a message and an error become, and what the client's head says.
#include <string>
#include <string_view>

#include "aigw/json/usage_scan.hpp"
#include "aigw/proxy/response_stage.hpp"

namespace aigw::providers {

class translating_stage : public proxy::response_stage {
 public:
  void on_head(const boost::beast::http::response_header<>& head) final;
  void on_data(std::string_view bytes) final;
  void on_end(bool complete) final;
  std::string* output() final { return kind_ == kind::off ? nullptr : &out_; }
  bool failed() const final { return failed_; }
  bool wrote_error_event() const final { return failed_; }  // every failure writes its event
  bool answers_at_end() const final { return kind_ == kind::message; }
  unsigned final_status() const final { return untranslatable_ ? 502 : 0; }
  const json::usage_reading* reported_usage() const final {
    return usage_.found ? &usage_ : nullptr;
  }

  // The largest message held to translate (past it, the client gets an error), and the
  // largest error body kept (past it, the rest is dropped).
  static constexpr std::size_t kMaxMessage = 16u << 20;
  static constexpr std::size_t kMaxError = 64u << 10;

 protected:
  enum class kind { off, stream, message, error };
  // `stream_type`: the media type of the provider's streams (text/event-stream, AWS's
  // application/vnd.amazon.eventstream).
  explicit translating_stage(std::string_view stream_type) : stream_type_(stream_type) {}

  // A new answer (kind_, status_ set, out_ and usage_ cleared): the schema's state reset.
  virtual void start(const boost::beast::http::response_header<>& head) = 0;
  // A stream's bytes as they arrive (not called once failed), and its clean end.
  virtual void stream_data(std::string_view bytes) = 0;
  virtual void end_stream() = 0;
  // A whole JSON message (`over`: it passed kMaxMessage, `body` is not all of it), an error
  // body (at most kMaxError of it): each into out_.
  virtual void end_message(std::string_view body, bool over) = 0;
  virtual void end_error(std::string_view body) = 0;

  kind kind_ = kind::off;
  unsigned status_ = 0;
  bool failed_ = false;          // set with the error event written into out_
  bool untranslatable_ = false;  // a message that could not be translated: out_ is an error
  std::string out_;              // what the client gets
  json::usage_reading usage_;

 private:
  std::string_view stream_type_;
  std::string held_;  // a message or error body
  bool over_ = false;
};

}  // namespace aigw::providers
