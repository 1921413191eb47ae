// LiteLLM proxy configs: `model_list` entries of `model_name` (exact, `provider/*` or `*`) and
// `litellm_params` (`model: provider/name`, `api_base`, `api_key`); any value may be
// `os.environ/VAR`. Deployments that share an API base and key share one backend.
#include <map>

#include <fmt/format.h>

#include "../yaml_reader.hpp"
#include "dialects.hpp"

namespace aigw::config::dialects {
namespace {

// A value as LiteLLM reads it: `os.environ/VAR` is the environment's VAR.
std::optional<std::string> litellm_value(const detail::reader& r, std::string_view key,
                                         const env_lookup& env, std::string* env_ref = nullptr) {
  auto raw = r.raw_string(key);
  if (!raw) return std::nullopt;
  constexpr std::string_view prefix = "os.environ/";
  if (!raw->starts_with(prefix)) return raw;
  auto name = raw->substr(prefix.size());
  auto value = env(name);
  if (!value)
    throw config_error(
        fmt::format("{}: environment variable {} is not set", r.child_path(key), name));
  if (env_ref) *env_ref = fmt::format("${{{}}}", name);
  return value;
}

}  // namespace

gateway from_litellm(const YAML::Node& root, const env_lookup& env, warnings& notes) {
  gateway g;
  for (const auto& key : detail::unknown_keys(root, {"model_list"}))
    notes.push_back(fmt::format("{}: LiteLLM setting ignored (not supported)", key));
  auto list = root["model_list"];
  if (!list.IsSequence() || list.size() == 0)
    throw config_error("model_list: expected a list of models");

  std::map<std::pair<std::string, std::string>, std::string> backend_by_target;
  std::optional<route> catch_all;
  std::map<std::string, std::size_t> seen_names;
  for (std::size_t i = 0; i < list.size(); ++i) {
    detail::reader entry(list[i], fmt::format("model_list[{}]", i), env);
    entry.require_map();
    for (const auto& key : detail::unknown_keys(entry.node(), {"model_name", "litellm_params"}))
      notes.push_back(fmt::format("{}.{}: ignored (not supported)", entry.path(), key));
    auto model_name = litellm_value(entry, "model_name", env).value_or("");
    if (model_name.empty())
      throw config_error(fmt::format("{}.model_name: required", entry.path()));
    if (auto [it, fresh] = seen_names.emplace(model_name, i); !fresh)
      throw config_error(fmt::format(
          "{}.model_name: \"{}\" is also model_list[{}]: load balancing several deployments of "
          "one model_name is not supported yet; keep one of them",
          entry.path(), model_name, it->second));

    auto params = entry.child("litellm_params");
    params.require_map();
    for (const auto& key : detail::unknown_keys(params.node(), {"model", "api_base", "api_key"}))
      notes.push_back(fmt::format("{}.{}: ignored (not supported)", params.path(), key));
    auto model = litellm_value(params, "model", env).value_or("");
    if (model.empty()) throw config_error(fmt::format("{}.model: required", params.path()));
    auto slash = model.find('/');
    std::string provider = slash == std::string::npos ? "openai" : model.substr(0, slash);
    std::string upstream_model = slash == std::string::npos ? model : model.substr(slash + 1);

    std::string key_ref;
    auto api_base = litellm_value(params, "api_base", env);
    auto api_key = litellm_value(params, "api_key", env, &key_ref).value_or("");
    std::string url;
    if (api_base && !api_base->empty()) {
      url = with_api_root(*api_base);
    } else if (auto known = provider_base_url(provider)) {
      url = known;
    } else {
      throw config_error(fmt::format(
          "{}.api_base: required for provider \"{}\" (only OpenAI-compatible APIs are served)",
          params.path(), provider));
    }
    detail::validate_url(url, params.child_path("api_base"));

    auto& name = backend_by_target[{url, api_key}];
    if (name.empty()) {
      backend b;
      b.name =
          backend_name(g.find_backend(provider) ? fmt::format("{}-{}", provider, i) : provider);
      b.url = url;
      b.api_key = api_key;
      b.api_key_ref = key_ref;
      b.use_timeouts(g.timeouts);
      name = b.name;
      g.backends.push_back(std::move(b));
    }

    // "*" in litellm's model means "the client's model" (less the route's own prefix).
    auto r = route::to(name, upstream_model == model_name ? "" : upstream_model);
    if (model_name == "*") {
      catch_all = std::move(r);
      continue;
    }
    r.model = model_name;
    g.routes.push_back(std::move(r));
  }
  if (catch_all) g.routes.push_back(std::move(*catch_all));
  detail::finish_routes(g, "Add an entry with model_name: \"*\"");
  return g;
}

}  // namespace aigw::config::dialects
