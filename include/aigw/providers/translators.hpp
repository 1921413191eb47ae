#pragma once
// The response stages that translate a backend's answers into the client's API, one of each
// per session (their buffers stay warm from request to request). An attempt asks for its
// target's: a schema that speaks the client's API has none, and the relay is the identity.
#include "aigw/config/config.hpp"
#include "aigw/json/model_extractor.hpp"
#include "aigw/providers/anthropic_stage.hpp"
#include "aigw/providers/bedrock_stage.hpp"
#include "aigw/proxy/response_stage.hpp"

namespace aigw::providers {

class translators {
 public:
  // Whether a backend of `schema` speaks another API than a client speaking `api` (its
  // answers then go through a translating stage).
  static bool translated(config::schema schema, client_api api) noexcept {
    bool anthropic_api = schema == config::schema::anthropic;
    return schema == config::schema::bedrock || anthropic_api != (api == client_api::anthropic);
  }

  // The stage for an attempt on a backend of `schema` for a client speaking `api`, prepared
  // for the request; nullptr for none.
  proxy::response_stage* for_attempt(config::schema schema, client_api api,
                                     const json::request_fields& request, std::string_view model) {
    if (!translated(schema, api)) return nullptr;
    if (schema == config::schema::bedrock) {  // OpenAI clients only (the adapter says)
      bedrock_chat_.prepare(request.include_usage, model);
      return &bedrock_chat_;
    }
    if (api == client_api::anthropic) return &anthropic_messages_;
    anthropic_chat_.prepare(request.include_usage);
    return &anthropic_chat_;
  }

 private:
  anthropic::chat_stage anthropic_chat_;          // Anthropic's answers for OpenAI clients
  anthropic::messages_stage anthropic_messages_;  // OpenAI's answers for Anthropic clients
  bedrock::chat_stage bedrock_chat_;              // Bedrock's answers for OpenAI clients
};

}  // namespace aigw::providers
