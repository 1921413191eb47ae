// LiteLLM proxy configs: `model_list` entries of `model_name` (exact, `provider/*` or `*`) and
// `litellm_params` (`model: provider/name`, `api_base`, `api_key`, `weight`, `order`); any value
// may be `os.environ/VAR`. Deployments that share an API base and key share one backend.
// Several deployments of one model_name are one route whose targets share its requests by
// `weight`, tried by `order` (lowest first: a priority level each); `fallbacks` (in
// router_settings or litellm_settings) add the fallback model_names' deployments as the
// next priority levels; router_settings' allowed_fails and cooldown_time become the circuit
// breaker.
#include <algorithm>
#include <cstdlib>
#include <map>

#include <fmt/format.h>

#include "../aws_credentials.hpp"
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
  // The text is not echoed: it may be a secret pasted in by mistake.
  if (!detail::is_variable_name(name))
    throw config_error(fmt::format("{}: os.environ/ must name a variable (letters, digits, _)",
                                   r.child_path(key)));
  auto value = env(name);
  if (!value)
    throw config_error(
        fmt::format("{}: environment variable {} is not set", r.child_path(key), name));
  if (env_ref) *env_ref = fmt::format("${{{}}}", name);
  return value;
}

// A whole number in a LiteLLM value (weights and orders may be written as 2 or 2.0).
// A bedrock/ deployment's AWS credentials: its aws_access_key_id and aws_secret_access_key
// (os.environ/ references kept for --print-config), or the environment or shared file
// (aws_profile_name).
aws_credentials bedrock_credentials(const detail::reader& params, const env_lookup& env) {
  aws_credentials c;
  auto id = litellm_value(params, "aws_access_key_id", env, &c.access_key_id_ref);
  auto secret = litellm_value(params, "aws_secret_access_key", env, &c.secret_access_key_ref);
  if (id && secret) {
    c.from = aws_credentials::origin::config;
    c.access_key_id = *id;
    c.secret_access_key = *secret;
    c.session_token =
        litellm_value(params, "aws_session_token", env, &c.session_token_ref).value_or("");
    return c;
  }
  return default_aws_credentials(env, litellm_value(params, "aws_profile_name", env).value_or(""),
                                 params.path());
}

std::optional<unsigned> whole_number(const std::string& text, unsigned max) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0' || !(v >= 0) || v > max || v != static_cast<unsigned>(v))
    return std::nullopt;
  return static_cast<unsigned>(v);
}

// router_settings: fallbacks, and the cooldown settings as the circuit breaker.
void read_router_settings(const YAML::Node& settings, const std::string& path, gateway& g,
                          std::vector<std::pair<std::string, std::vector<std::string>>>& fallbacks,
                          warnings& notes) {
  if (!settings || !settings.IsMap()) return;
  for (const auto& entry : settings) {
    auto key = entry.first.Scalar();
    const auto& value = entry.second;
    auto at = fmt::format("{}.{}", path, key);
    if (key == "fallbacks") {
      if (!value.IsSequence())
        throw config_error(fmt::format("{}: expected a list of {{model_name: [fallbacks]}}", at));
      for (std::size_t i = 0; i < value.size(); ++i) {
        if (!value[i].IsMap())
          throw config_error(fmt::format("{}[{}]: expected {{model_name: [fallbacks]}}", at, i));
        for (const auto& f : value[i]) {
          std::vector<std::string> to;
          if (f.second.IsSequence())
            for (const auto& name : f.second) to.push_back(name.Scalar());
          else
            to.push_back(f.second.Scalar());
          fallbacks.emplace_back(f.first.Scalar(), std::move(to));
        }
      }
    } else if (key == "allowed_fails" && path == "router_settings" && value.IsScalar()) {
      auto n = whole_number(value.Scalar(), 999999);  // + 1 stays in the native bound
      if (!n) throw config_error(fmt::format("{}: \"{}\" is not a count", at, value.Scalar()));
      g.circuit_breaker.consecutive_failures = *n + 1;  // allowed, so the next one opens it
      notes.push_back(fmt::format(
          "{}: the circuit breaker opens after {} failures in a row (LiteLLM counts per minute)",
          at, *n + 1));
    } else if (key == "cooldown_time" && path == "router_settings" && value.IsScalar()) {
      auto n = whole_number(value.Scalar(), 86400);
      if (!n || *n == 0)
        throw config_error(
            fmt::format("{}: \"{}\" is not a number of seconds", at, value.Scalar()));
      g.circuit_breaker.cooldown = std::chrono::seconds(*n);
    } else {
      notes.push_back(fmt::format("{}: LiteLLM setting ignored (not supported)", at));
    }
  }
}

}  // namespace

gateway from_litellm(const YAML::Node& root, const env_lookup& env, warnings& notes) {
  gateway g;
  for (const auto& key :
       detail::unknown_keys(root, {"model_list", "router_settings", "litellm_settings"}))
    notes.push_back(fmt::format("{}: LiteLLM setting ignored (not supported)", key));
  std::vector<std::pair<std::string, std::vector<std::string>>> fallbacks;
  read_router_settings(root["router_settings"], "router_settings", g, fallbacks, notes);
  read_router_settings(root["litellm_settings"], "litellm_settings", g, fallbacks, notes);
  auto list = root["model_list"];
  if (!list.IsSequence() || list.size() == 0)
    throw config_error("model_list: expected a list of models");

  std::map<std::pair<std::string, std::string>, std::string> backend_by_target;
  // One route per model_name, in the order first written; "*" goes last (the default).
  std::vector<route> routes;
  std::map<std::string, std::size_t> route_of;
  for (std::size_t i = 0; i < list.size(); ++i) {
    detail::reader entry(list[i], fmt::format("model_list[{}]", i), env);
    entry.require_map();
    for (const auto& key : detail::unknown_keys(entry.node(), {"model_name", "litellm_params"}))
      notes.push_back(fmt::format("{}.{}: ignored (not supported)", entry.path(), key));
    auto model_name = litellm_value(entry, "model_name", env).value_or("");
    if (model_name.empty())
      throw config_error(fmt::format("{}.model_name: required", entry.path()));

    auto params = entry.child("litellm_params");
    params.require_map();
    for (const auto& key : detail::unknown_keys(
             params.node(), {"model", "api_base", "api_key", "weight", "order", "aws_region_name",
                             "aws_access_key_id", "aws_secret_access_key", "aws_session_token",
                             "aws_profile_name"}))
      notes.push_back(fmt::format("{}.{}: ignored (not supported)", params.path(), key));
    auto model = litellm_value(params, "model", env).value_or("");
    if (model.empty()) throw config_error(fmt::format("{}.model: required", params.path()));
    auto slash = model.find('/');
    std::string provider = slash == std::string::npos ? "openai" : model.substr(0, slash);
    std::string upstream_model = slash == std::string::npos ? model : model.substr(slash + 1);
    // bedrock/converse/<model id> names the API LiteLLM uses; Converse is the one served.
    if (provider == "bedrock" && upstream_model.starts_with("converse/"))
      upstream_model = upstream_model.substr(9);

    std::string key_ref;
    auto api_base = litellm_value(params, "api_base", env);
    auto api_key = litellm_value(params, "api_key", env, &key_ref).value_or("");
    std::string url;
    std::optional<aws_credentials> aws;
    std::string region;
    if (provider == "bedrock") {
      region = litellm_value(params, "aws_region_name", env)
                   .value_or(env("AWS_REGION").value_or(env("AWS_DEFAULT_REGION").value_or("")));
      if (region.empty())
        throw config_error(
            fmt::format("{}.aws_region_name: required for bedrock (or AWS_REGION)", params.path()));
      url = api_base && !api_base->empty()
                ? *api_base
                : fmt::format("https://bedrock-runtime.{}.amazonaws.com", region);
      // A Bedrock API key goes as a bearer token: no AWS keys needed then.
      aws = api_key.empty() ? bedrock_credentials(params, env) : aws_credentials{};
    } else if (api_base && !api_base->empty()) {
      url = with_api_root(*api_base);
    } else if (auto known = provider_base_url(provider)) {
      url = known;
    } else {
      throw config_error(
          fmt::format("{}.api_base: required for provider \"{}\" (its OpenAI-compatible API root)",
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
      b.schema = provider_schema(provider);
      if (aws) {
        b.region = region;
        b.max_tokens = 0;
        b.aws = std::move(*aws);
      }
      if (auto note = translation_note(params.path(), b.schema); !note.empty())
        notes.push_back(note);
      b.use_timeouts(g.timeouts);
      b.breaker = g.circuit_breaker;
      name = b.name;
      g.backends.push_back(std::move(b));
    }

    // "*" in litellm's model means "the client's model" (less the route's own prefix).
    route_target target{name, upstream_model == model_name ? "" : upstream_model, 1, 0};
    if (auto w = litellm_value(params, "weight", env)) {
      auto n = whole_number(*w, 1000000);
      if (!n || *n == 0)
        throw config_error(fmt::format("{}: \"{}\" is not a weight (a whole number from 1)",
                                       params.child_path("weight"), *w));
      target.weight = *n;
    }
    if (auto o = litellm_value(params, "order", env)) {
      auto n = whole_number(*o, 1000);
      if (!n)
        throw config_error(
            fmt::format("{}: \"{}\" is not an order (0 to 1000)", params.child_path("order"), *o));
      target.priority = *n;
    }
    auto [it, fresh] = route_of.emplace(model_name, routes.size());
    if (fresh) {
      routes.emplace_back();
      if (model_name != "*") routes.back().model = model_name;
    }
    routes[it->second].targets.push_back(std::move(target));
  }
  // Fallbacks: the fallback model_names' deployments, each a priority level after the
  // route's own, sent the fallback's model.
  // Each fallback takes the deployments its model_name was written with (never ones another
  // fallback added), so the order fallbacks are written in does not matter.
  std::vector<std::vector<route_target>> written;
  for (const auto& r : routes) written.push_back(r.targets);
  for (const auto& [from, to] : fallbacks) {
    auto at = route_of.find(from);
    if (at == route_of.end())
      throw config_error(fmt::format("fallbacks: \"{}\" is no model_name of model_list", from));
    auto& r = routes[at->second];
    std::uint32_t level = 0;
    for (const auto& t : r.targets) level = std::max(level, t.priority + 1);
    for (const auto& name : to) {
      auto fallback = route_of.find(name);
      if (fallback == route_of.end())
        throw config_error(fmt::format(
            "fallbacks: \"{}\" (of \"{}\") is no model_name of model_list", name, from));
      if (name == from)
        throw config_error(fmt::format("fallbacks: \"{}\" falls back to itself", from));
      std::uint32_t deepest = level;
      for (auto t : written[fallback->second]) {
        if (t.model_override.empty()) t.model_override = name;
        t.priority = std::min<std::uint32_t>(t.priority + level, 1000);  // the native bound
        deepest = std::max(deepest, t.priority);
        r.targets.push_back(std::move(t));
      }
      level = deepest + 1;
    }
  }
  for (auto& r : routes)
    if (r.model) g.routes.push_back(std::move(r));
  if (auto star = route_of.find("*"); star != route_of.end())
    g.routes.push_back(std::move(routes[star->second]));
  detail::finish_routes(g, "Add an entry with model_name: \"*\"");
  return g;
}

}  // namespace aigw::config::dialects
