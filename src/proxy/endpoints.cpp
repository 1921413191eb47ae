#include "aigw/proxy/endpoints.hpp"

#include <algorithm>
#include <array>

namespace aigw::proxy {
namespace {

// The paths whose POST must name the model that routes it (their sub-paths, stored objects,
// never do). Every other /v1 path is routed too (files, batches, vector stores,
// conversations, paths of APIs to come): by the x-ai-eg-model header, a header match, an
// object id, or the default route.
constexpr std::array<std::string_view, 6> kNeedModel = {
    "/chat/completions", "/completions", "/embeddings",
    "/responses",        "/messages",    "/messages/count_tokens"};

// "." and ".." segments (also percent-encoded), encoded slashes and backslashes could walk a
// backend's path out of its base path once a server behind it decodes them, e.g.
// /v1/images/../../admin or /v1/images/..%2F..%2Fadmin. So can a ';' (servlet containers
// drop ";params" from a segment: /v1/images/..;/admin) and an encoded '%' (a server that
// decodes twice turns ..%252f into ../). No OpenAI path has any of them.
bool has_path_escape(std::string_view path) {
  if (path.find_first_of("\\;") != std::string_view::npos) return true;
  for (size_t start = 0; start < path.size();) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    auto segment = path.substr(start, end - start);
    if (segment == "." || segment == "..") return true;
    start = end + 1;
  }
  for (size_t i = path.find('%'); i != std::string_view::npos; i = path.find('%', i + 1)) {
    if (i + 2 >= path.size()) continue;
    char hi = path[i + 1], lo = static_cast<char>(path[i + 2] | 0x20);  // lower-case hex
    if ((hi == '2' && (lo == '5' || lo == 'e' || lo == 'f')) || (hi == '5' && lo == 'c'))
      return true;
  }
  return false;
}

}  // namespace

endpoint classify(std::string_view path) noexcept {
  constexpr std::string_view version = "/v1";
  if (path == "/healthz") return {endpoint_kind::health, false, path};
  if (!path.starts_with(version) || has_path_escape(path)) return {};
  auto rest = path.substr(version.size());
  if (rest == "/models") return {endpoint_kind::list_models, false, rest};
  if (rest.starts_with("/models/") && rest.size() > 8)
    return {endpoint_kind::retrieve_model, false, rest};
  if (rest.size() < 2 || rest[0] != '/') return {};
  // The provider's organization administration (users, projects, API keys, audit logs) is
  // not something to offer every client of a shared gateway with the gateway's key.
  if (rest == "/organization" || rest.starts_with("/organization/")) return {};
  bool needs_model = std::find(kNeedModel.begin(), kNeedModel.end(), rest) != kNeedModel.end();
  // Anthropic's Messages API, which its clients call on the same /v1 root.
  auto api = rest == "/messages" || rest.starts_with("/messages/") ? client_api::anthropic
                                                                   : client_api::openai;
  return {endpoint_kind::routed, needs_model, rest, api};
}

}  // namespace aigw::proxy
