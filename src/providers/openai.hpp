#pragma once
// OpenAI and every OpenAI-compatible server: the identity adapter. The request goes to the
// backend's base path plus the client's path and query, with the client's body as it came
// (a copy only for a model override) and the key as a bearer token. An Anthropic client's
// /messages goes as chat completions (openai_operation).
#include "aigw/providers/adapter.hpp"

namespace aigw::providers {

class openai_adapter final : public adapter {
 public:
  std::pair<std::string, std::string> credential(const std::string& api_key) const override {
    return {"Authorization", "Bearer " + api_key};
  }

  errc write_request(const upstream_call& call, const upstream::target& target, std::string& head,
                     std::string& scratch, std::string_view& body,
                     std::string& detail) const override {
    std::string_view rest;
    if (auto e = openai_operation(call, target, scratch, rest, body, detail); e != errc::ok)
      return e;
    head.clear();
    head.append(call.method).append(" ");
    auto target_start = head.size();
    // A translated request's query was the Anthropic client's (?beta=true): not this API's.
    head.append(target.base_path).append(rest);
    if (call.api == client_api::openai) head.append(call.query);
    return finish_head(call, target, target_start, body.size(), head, detail, {},
                       call.api != client_api::openai);
  }
};

}  // namespace aigw::providers
