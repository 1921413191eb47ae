#include "aigw/proxy/endpoints.hpp"

#include <array>

namespace aigw::proxy {
namespace {

enum class shape { exact, with_subpaths, subpaths_only };

struct routed_path {
  std::string_view path;
  shape serves;
  bool needs_model;
};

constexpr std::array kRouted = {
    routed_path{"/chat/completions", shape::with_subpaths, true},  // sub-paths: stored ones
    routed_path{"/completions", shape::exact, true},
    routed_path{"/embeddings", shape::exact, true},
    routed_path{"/responses", shape::with_subpaths, false},
    routed_path{"/moderations", shape::exact, false},
    routed_path{"/images", shape::subpaths_only, false},
    routed_path{"/audio", shape::subpaths_only, false},
};

bool matches(const routed_path& r, std::string_view rest) {
  if (rest == r.path) return r.serves != shape::subpaths_only;
  return r.serves != shape::exact && rest.size() > r.path.size() + 1 && rest.starts_with(r.path) &&
         rest[r.path.size()] == '/';
}

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
  for (const auto& r : kRouted)
    if (matches(r, rest)) return {endpoint_kind::routed, r.needs_model && rest == r.path, rest};
  return {};
}

}  // namespace aigw::proxy
