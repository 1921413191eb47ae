#pragma once
// Anthropic's Messages API (`schema: anthropic`). An OpenAI client's chat completions
// request is translated (anthropic::chat_to_messages) and sent to <base>/v1/messages, its
// answer coming back through anthropic::chat_stage; an Anthropic client's /v1/messages (and
// count_tokens) goes as it came. The key goes in x-api-key, with an anthropic-version when
// the client sent none. Other OpenAI endpoints have no Anthropic counterpart: a 404 that
// says so.
#include "aigw/providers/adapter.hpp"

namespace aigw::providers {

class anthropic_adapter final : public adapter {
 public:
  // The API version sent when the client names none (the one Anthropic's API is at).
  static constexpr std::string_view kVersionField = "anthropic-version: 2023-06-01\r\n";

  std::pair<std::string, std::string> credential(const std::string& api_key) const override {
    return {"x-api-key", api_key};
  }

  errc write_request(const upstream_call& call, const upstream::target& target, std::string& head,
                     std::string& scratch, std::string_view& body,
                     std::string& detail) const override;
};

}  // namespace aigw::providers
