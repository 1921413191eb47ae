#pragma once
// AWS Bedrock's Converse API behind the OpenAI API (`schema: bedrock`): a chat completions
// request is translated (bedrock::chat_to_converse) and sent to
// <url>/model/<model id>/converse, or /converse-stream for a stream, the model id being the
// backend's `model_ids` entry for the model (else the model itself), percent-encoded. Each
// request is signed with SigV4 (service "bedrock", the backend's region and credentials),
// unless the backend has an api_key (a Bedrock API key, sent as a bearer token). Its answer
// comes back through bedrock::chat_stage. Other endpoints, and Anthropic clients, have no
// counterpart here: a 404 that says so.
#include "aigw/providers/adapter.hpp"

namespace aigw::providers {

class bedrock_adapter final : public adapter {
 public:
  std::pair<std::string, std::string> credential(const std::string& api_key) const override {
    return {"Authorization", "Bearer " + api_key};
  }

  errc write_request(const upstream_call& call, const upstream::target& target, std::string& head,
                     std::string& scratch, std::string_view& body,
                     std::string& detail) const override;
};

}  // namespace aigw::providers
