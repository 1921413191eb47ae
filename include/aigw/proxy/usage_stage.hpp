#pragma once
// Usage accounting: a response stage that only reads. It finds the token usage a backend
// reports, in a JSON body (read at its end) or in an SSE stream (each event as it
// completes; only events that carry a usage object are parsed), and when the first body
// bytes reached the client. The session records what it found when the request ends; a
// response that ends without usage (cut, aborted, or the backend sent none) is counted as
// usage missing, never as zero tokens.
#include <chrono>
#include <string>

#include "aigw/json/usage_scan.hpp"
#include "aigw/proxy/response_stage.hpp"
#include "aigw/proxy/sse_scanner.hpp"

namespace aigw::proxy {

// Whether a request to `rest` (the path after /v1) returns token usage: chat, completions,
// embeddings, the Responses API and Anthropic's Messages API.
bool reports_usage(std::string_view rest) noexcept;

class usage_stage final : public response_stage {
 public:
  using clock = std::chrono::steady_clock;

  // Before each attempt: whether the gateway forced stream_options.include_usage upstream
  // (the client did not ask for usage). On a stream the stage then transforms: the
  // usage-only chunk is read and taken out, and the "usage":null the option adds to every
  // other chunk is removed, so the client gets exactly the stream it asked for.
  // `headers`: put the usage of a JSON response in its head (x-aigw-usage-input, -output).
  // `source`: a translating stage before this one, whose reported_usage() (the provider's
  // own counts) is taken in place of what the client's bytes say.
  void prepare(bool forced, bool headers, const response_stage* source = nullptr) noexcept {
    forced_ = forced;
    headers_ = headers;
    source_ = source;
  }
  bool wants_body_before_head() const override { return headers_ && mode_ == mode::json; }
  void head_fields(std::string& out) const override;
  std::string* output() override { return forced_ && mode_ == mode::sse ? &out_ : nullptr; }

  void on_head(const boost::beast::http::response_header<>& head) override;
  void on_data(std::string_view bytes) override;
  void on_end(bool complete) override;

  // After the response: what was found.
  const json::usage_reading& usage() const noexcept { return usage_; }
  bool complete() const noexcept { return complete_; }
  bool streamed() const noexcept { return mode_ == mode::sse; }
  clock::time_point first_byte() const noexcept { return first_byte_; }
  // The data events a stream relayed ([DONE] aside): about one output token each, what an
  // answer cut before its usage is charged at least.
  std::uint64_t data_events() const noexcept { return data_events_; }

  // The largest JSON body held to read its usage; past it, usage is missing.
  static constexpr std::size_t kMaxHeld = 8u << 20;

 private:
  enum class mode { off, json, sse };
  void read(std::string_view json);
  void take_events();  // forced: complete events from held_ to out_

  mode mode_ = mode::off;
  bool complete_ = false;
  bool over_ = false;
  clock::time_point first_byte_{};
  std::uint64_t data_events_ = 0;
  json::usage_reading usage_;
  sse_scanner events_;
  bool forced_ = false;
  bool headers_ = false;
  const response_stage* source_ = nullptr;
  std::string held_;         // a JSON body; forced: the stream's incomplete event
  std::size_t scanned_ = 0;  // forced: held_ bytes already searched for an event's end
  std::string out_;          // forced: what the client gets
  std::string scratch_;      // an event's data, with the parser's padding
};

}  // namespace aigw::proxy
