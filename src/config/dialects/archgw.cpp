// archgw / Plano configs: `llm_providers` (or `model_providers`) with `name`, `model`
// (`provider/name` or a bare name), `default: true`, `access_key: $VAR`, `base_url`, and
// older configs' `endpoint: host:port` with `provider_interface: openai`. A request reaches a
// provider by its `x-arch-llm-provider-hint` header, by naming it (or its model) as the
// model, or as the default; it is sent with the provider's model.
#include <fmt/format.h>

#include "../yaml_reader.hpp"
#include "dialects.hpp"

namespace aigw::config::dialects {
namespace {

constexpr std::string_view kHintHeader = "x-arch-llm-provider-hint";

// "$VAR" or "${VAR}" is the environment's VAR; anything else is literal ("$x.y" too).
std::string arch_value(const std::string& raw, const env_lookup& env, const std::string& path,
                       std::string* env_ref) {
  if (raw.size() < 2 || raw[0] != '$') return raw;
  std::string name =
      raw[1] == '{' && raw.back() == '}' ? raw.substr(2, raw.size() - 3) : raw.substr(1);
  if (!detail::is_variable_name(name)) return raw;
  auto value = env(name);
  if (!value) throw config_error(fmt::format("{}: environment variable {} is not set", path, name));
  if (env_ref) *env_ref = fmt::format("${{{}}}", name);
  return *value;
}

}  // namespace

gateway from_archgw(const YAML::Node& root, const env_lookup& env, warnings& notes) {
  gateway g;
  std::string list_key = root["llm_providers"] ? "llm_providers" : "model_providers";
  for (const auto& key : detail::unknown_keys(root, {"llm_providers", "model_providers"}))
    notes.push_back(fmt::format("{}: archgw setting ignored (not supported)", key));
  auto providers = root[list_key];
  if (!providers.IsSequence() || providers.size() == 0)
    throw config_error(fmt::format("{}: expected a list of providers", list_key));

  std::optional<route> default_route;
  for (std::size_t i = 0; i < providers.size(); ++i) {
    detail::reader p(providers[i], fmt::format("{}[{}]", list_key, i), env);
    p.require_map();
    for (const auto& key :
         detail::unknown_keys(p.node(), {"name", "model", "default", "access_key", "base_url",
                                         "endpoint", "provider_interface", "provider"}))
      notes.push_back(fmt::format("{}.{}: ignored (not supported)", p.path(), key));
    auto model = p.raw_string("model").value_or("");
    auto name = p.raw_string("name").value_or(model);
    if (name.empty()) throw config_error(fmt::format("{}.name: required", p.path()));
    auto slash = model.find('/');
    std::string provider =
        p.raw_string("provider_interface")
            .value_or(
                p.raw_string("provider")
                    .value_or(slash == std::string::npos ? "openai" : model.substr(0, slash)));
    std::string upstream_model = slash == std::string::npos ? model : model.substr(slash + 1);

    backend b;
    b.name = backend_name(name);
    if (g.find_backend(b.name)) b.name = fmt::format("{}-{}", b.name, i);
    if (auto base = p.raw_string("base_url")) {
      b.url = with_api_root(*base);
    } else if (auto endpoint = p.raw_string("endpoint")) {
      auto colon = endpoint->rfind(':');
      auto host = outside_docker(endpoint->substr(0, colon), notes, p.child_path("endpoint"));
      auto port = colon == std::string::npos ? std::string("80") : endpoint->substr(colon + 1);
      b.url = fmt::format("{}://{}:{}/v1", port == "443" ? "https" : "http", host, port);
    } else if (auto known = provider_base_url(provider)) {
      b.url = known;
    } else {
      throw config_error(
          fmt::format("{}: provider \"{}\" needs base_url (its OpenAI-compatible API root)",
                      p.path(), provider));
    }
    detail::validate_url(b.url, p.path());
    // archgw's anthropic/ providers speak Anthropic's API; its others (bedrock/ among them)
    // are OpenAI-compatible endpoints at their base_url.
    b.schema = provider == "anthropic" ? config::schema::anthropic : config::schema::openai;
    if (auto note = translation_note(p.path(), b.schema); !note.empty()) notes.push_back(note);
    if (auto key = p.raw_string("access_key"))
      b.api_key = arch_value(*key, env, p.child_path("access_key"), &b.api_key_ref);
    b.use_timeouts(g.timeouts);
    b.breaker = g.circuit_breaker;

    auto by_hint = route::to(b.name, upstream_model);
    by_hint.headers.push_back({std::string(kHintHeader), name, false});
    g.routes.push_back(by_hint);
    auto by_name = route::to(b.name, upstream_model == name ? "" : upstream_model);
    by_name.model = name;
    g.routes.push_back(by_name);
    if (!upstream_model.empty() && upstream_model != name) {
      auto by_model = route::to(b.name);
      by_model.model = upstream_model;
      g.routes.push_back(by_model);
    }
    if (p.raw_string("default").value_or("false") == "true") {
      if (default_route)
        notes.push_back(
            fmt::format("{}.default: a second default provider; the first stays", p.path()));
      else {
        // Sent with the provider's own model, as archgw does.
        default_route = route::to(b.name, upstream_model);
      }
    }
    g.backends.push_back(std::move(b));
  }
  if (default_route) g.routes.push_back(std::move(*default_route));
  detail::finish_routes(g, "Mark one provider `default: true`");
  return g;
}

}  // namespace aigw::config::dialects
