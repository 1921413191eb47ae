#include "aigw/proxy/endpoints.hpp"

#include <array>

namespace aigw::proxy {
namespace {

struct routed_path {
  std::string_view path;
  bool prefix;  // also serves sub-paths, e.g. /responses/{id}/cancel
  bool needs_model;
};

constexpr std::array kRouted = {
    routed_path{"/chat/completions", false, true},
    routed_path{"/completions", false, true},
    routed_path{"/embeddings", false, true},
    routed_path{"/responses", true, false},
    routed_path{"/moderations", false, false},
    routed_path{"/images", true, false},
    routed_path{"/audio", true, false},
};

bool matches(const routed_path& r, std::string_view rest) {
  if (rest == r.path) return true;
  return r.prefix && rest.size() > r.path.size() + 1 && rest.starts_with(r.path) &&
         rest[r.path.size()] == '/';
}

}  // namespace

endpoint classify(std::string_view path) noexcept {
  constexpr std::string_view version = "/v1";
  if (!path.starts_with(version)) return {};
  auto rest = path.substr(version.size());
  if (rest == "/models") return {endpoint_kind::list_models, false, rest};
  if (rest.starts_with("/models/") && rest.size() > 8)
    return {endpoint_kind::retrieve_model, false, rest};
  for (const auto& r : kRouted)
    if (matches(r, rest)) return {endpoint_kind::routed, r.needs_model, rest};
  return {};
}

}  // namespace aigw::proxy
