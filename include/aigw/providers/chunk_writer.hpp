#pragma once
// OpenAI's stream events, written for a translated stream (Anthropic's, Bedrock's): each a
// chat.completion.chunk of the stream's id, created time and model, with one delta. Strings
// are given as JSON string tokens (quotes and escapes included: the provider's own, spliced
// as they came), so writing an event copies and allocates nothing but the output's growth.
#include <cstdint>
#include <string>
#include <string_view>

#include "aigw/json/usage_scan.hpp"

namespace aigw::providers {

class chunk_writer {
 public:
  // The stream's id and model as JSON string tokens ("" for none), once the provider names
  // them; every event keeps the created time of the reset.
  void start(std::string_view id_token, std::string_view model_token);
  bool started() const noexcept { return started_; }
  // A new answer, not started: until start(), its events name no id or model ("") and the
  // time of the reset (never what the previous answer left).
  void reset();

  // The first delta: {"role":"assistant","content":""}.
  void role(std::string& out) const;
  void content(std::string& out, std::string_view token) const;
  void reasoning(std::string& out, std::string_view token) const;  // as reasoning_content
  // A tool call's first delta (its id and name), then pieces of its arguments.
  void tool_start(std::string& out, unsigned index, std::string_view id_token,
                  std::string_view name_token) const;
  void tool_arguments(std::string& out, unsigned index, std::string_view token) const;
  void finish(std::string& out, std::string_view finish_reason) const;
  // The usage-only chunk (stream_options.include_usage), then data: [DONE].
  void usage(std::string& out, const json::usage_reading& usage) const;
  static void done(std::string& out);
  // OpenAI's error event: {"error":{"message":...,"type":...,"param":null,"code":...}}; `type`
  // plain (no escapes needed).
  static void error(std::string& out, std::string_view message_token, std::string_view type);

 private:
  void begin(std::string& out) const;
  static void end(std::string& out, std::string_view finish_reason);

  bool started_ = false;
  std::string id_ = "\"\"";
  std::string model_ = "\"\"";
  std::int64_t created_ = 0;
};

}  // namespace aigw::providers
