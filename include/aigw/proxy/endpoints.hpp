#pragma once
// The OpenAI API paths the gateway serves, and how each is handled.
#include <string_view>

#include "aigw/core/client_api.hpp"

namespace aigw::proxy {

enum class endpoint_kind {
  unknown,         // 404
  health,          // GET /healthz: the gateway is up (for container health checks)
  list_models,     // GET /v1/models, answered from the config
  retrieve_model,  // GET /v1/models/{id}, answered from the config
  routed,          // forwarded to a backend
};

struct endpoint {
  endpoint_kind kind = endpoint_kind::unknown;
  bool needs_model = false;  // a POST without a model is a 400 (sub-paths never need one)
  std::string_view rest;     // the path after "/v1", e.g. "/chat/completions"
  client_api api = client_api::openai;  // /messages...: Anthropic's
};

// `path` is the request target without its query string.
endpoint classify(std::string_view path) noexcept;

}  // namespace aigw::proxy
