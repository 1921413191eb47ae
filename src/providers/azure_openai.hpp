#pragma once
// Azure OpenAI: each model is a deployment, addressed in the path
// (/openai/deployments/<deployment>/<operation>), with a required api-version query
// parameter (a client's own wins) and the key in an api-key header.
#include "aigw/providers/adapter.hpp"

namespace aigw::providers {

class azure_openai_adapter final : public adapter {
 public:
  std::pair<std::string, std::string> credential(const std::string& api_key) const override {
    return {"api-key", api_key};
  }

  errc write_request(const upstream_call& call, const upstream::target& target, std::string& head,
                     std::string& scratch, std::string_view& body,
                     std::string& detail) const override;
};

}  // namespace aigw::providers
