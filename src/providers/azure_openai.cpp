#include "azure_openai.hpp"

#include <fmt/format.h>

namespace aigw::providers {
namespace {

// The Azure OpenAI operations that run on one deployment.
bool is_deployment_path(std::string_view rest) {
  for (std::string_view p : {"/chat/completions", "/completions", "/embeddings"})
    if (rest == p) return true;
  return rest.starts_with("/images/") || rest.starts_with("/audio/");
}

}  // namespace

errc azure_openai_adapter::write_request(const upstream_call& call, const upstream::target& target,
                                         std::string& head, std::string& scratch,
                                         std::string_view& body, std::string& detail) const {
  std::string_view rest;
  if (auto e = openai_operation(call, target, scratch, rest, body, detail); e != errc::ok) return e;
  head.clear();
  head.append(call.method).append(" ");
  auto target_start = head.size();
  head.append(target.base_path);
  if (is_deployment_path(rest)) {
    // The deployment is the model unless the config maps it: one path segment of plain
    // characters, never a path, a query or a line of its own.
    auto deployment = target.deployment_for(call.model());
    if (!upstream::is_safe_path_segment(deployment)) {
      // The model is quoted back cut short: it can be as long as a body, and an error reply
      // must not cost a multiple of what the client sent.
      constexpr std::size_t kQuoted = 128;
      auto model = call.model();
      detail = fmt::format(
          "\"{}{}\" is not a deployment name of backend \"{}\" (allowed: letters, digits and "
          ". _ ~ : -)",
          model.substr(0, kQuoted), model.size() > kQuoted ? "..." : "", target.name);
      return errc::unsafe_model_name;
    }
    head.append("/openai/deployments/").append(deployment);
  } else {
    head.append("/openai");
  }
  auto query = call.api == client_api::openai ? call.query : std::string_view();
  head.append(rest).append(query);
  if (query.find("api-version=") == std::string_view::npos)
    head.append(query.empty() ? "?" : "&").append("api-version=").append(target.api_version);
  return finish_head(call, target, target_start, body.size(), head, detail, {},
                     call.api != client_api::openai);
}

}  // namespace aigw::providers
