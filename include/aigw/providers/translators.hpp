#pragma once
// The response stages that translate a backend's answers into the client's API, one of each
// per session (their buffers stay warm from request to request). An attempt asks for its
// target's: a schema that speaks the client's API has none, and the relay is the identity.
#include "aigw/config/config.hpp"
#include "aigw/json/model_extractor.hpp"
#include "aigw/providers/anthropic_stage.hpp"
#include "aigw/proxy/response_stage.hpp"

namespace aigw::providers {

class translators {
 public:
  // The stage for an attempt on a backend of `schema`, prepared for the request; nullptr
  // for none.
  proxy::response_stage* for_attempt(config::schema schema, const json::request_fields& request) {
    switch (schema) {
      case config::schema::anthropic:
        anthropic_.prepare(request.include_usage);
        return &anthropic_;
      case config::schema::openai:
      case config::schema::azure_openai:
        return nullptr;
    }
    return nullptr;
  }

 private:
  anthropic::chat_stage anthropic_;
};

}  // namespace aigw::providers
