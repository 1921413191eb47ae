// Envoy AI Gateway configs as users write them for `aigw run`: Kubernetes-style documents.
// Gateway (listener port), AIGatewayRoute (rules: header matches, Exact or RE2
// RegularExpression, on x-ai-eg-model or any header; backendRefs with modelNameOverride,
// weight and priority; timeouts),
// AIServiceBackend (schema, timeouts, backendRef), Backend (ip or fqdn endpoints),
// BackendSecurityPolicy (APIKey) with its Secret. A rule without matches, or matching `.*`,
// is the default; with no default and exactly one backend, that backend is the default (what
// envoyproxy/ai-gateway issue 612 asked for).
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <boost/beast/core/detail/base64.hpp>

#include "../aws_credentials.hpp"
#include "../yaml_reader.hpp"
#include "dialects.hpp"

namespace aigw::config::dialects {
namespace {

struct document {
  YAML::Node node;
  std::string path;  // e.g. `documents[3] (AIGatewayRoute aigw-run)`
};

std::string scalar(const YAML::Node& n, std::string_view key, std::string fallback = "") {
  auto v = n[std::string(key)];
  return v && v.IsScalar() ? v.Scalar() : fallback;
}

std::string decode_base64(const std::string& text) {
  std::string out(boost::beast::detail::base64::decoded_size(text.size()), '\0');
  auto [written, read] = boost::beast::detail::base64::decode(out.data(), text.data(), text.size());
  out.resize(written);
  return out;
}

bool matches_anything(const std::string& regex) {
  return regex == ".*" || regex == "^.*$";
}

}  // namespace

gateway from_envoy_ai_gateway(const std::vector<YAML::Node>& documents, const env_lookup& env,
                              warnings& notes) {
  gateway g;
  std::multimap<std::string, document> by_kind;
  for (std::size_t i = 0; i < documents.size(); ++i) {
    const auto& d = documents[i];
    auto kind = scalar(d, "kind");
    auto name = d["metadata"] ? scalar(d["metadata"], "name") : "";
    by_kind.emplace(kind, document{d, fmt::format("documents[{}] ({} {})", i, kind, name)});
  }
  auto all = [&](const std::string& kind) {
    auto [first, last] = by_kind.equal_range(kind);
    std::vector<document> out;
    for (auto it = first; it != last; ++it) out.push_back(it->second);
    return out;
  };
  for (const auto& [kind, d] : by_kind) {
    static constexpr std::array kKnown = {
        "GatewayClass",          "Gateway", "AIGatewayRoute", "AIServiceBackend", "Backend",
        "BackendSecurityPolicy", "Secret"};
    if (std::find(kKnown.begin(), kKnown.end(), kind) == kKnown.end())
      notes.push_back(fmt::format("{}: kind {} is not supported; ignored", d.path, kind));
  }

  // Gateway: the listener's port (on 127.0.0.1, as `aigw run` serves; --listen to change).
  for (const auto& d : all("Gateway")) {
    auto listeners = d.node["spec"]["listeners"];
    if (listeners && listeners.IsSequence() && listeners.size() > 0) {
      auto port = scalar(listeners[0], "port", "1975");
      auto number = detail::parse_number(port, 1, 65535);
      if (!number)
        throw config_error(
            fmt::format("{}.spec.listeners[0].port: \"{}\" is not a port", d.path, port));
      g.listen_port = static_cast<std::uint16_t>(*number);
      if (listeners.size() > 1)
        notes.push_back(fmt::format("{}: only the first listener is served", d.path));
    }
    if (d.node["spec"]["infrastructure"])
      notes.push_back(
          fmt::format("{}.spec.infrastructure: ignored (Envoy deployment settings)", d.path));
  }

  // Secrets and security policies: API keys per AIServiceBackend.
  // stringData may use ${VAR}, so a key need not be written into the file.
  struct api_key {
    std::string value;
    std::string ref;  // "${VAR}" when it came from the environment
  };
  std::map<std::string, api_key> secrets;  // Secret name -> its apiKey
  // Secret name -> its "credentials": an AWS shared credentials file's text.
  std::map<std::string, std::string> credential_files;
  for (const auto& d : all("Secret")) {
    auto name = scalar(d.node["metadata"], "name");
    if (auto s = d.node["stringData"]; s && s["credentials"])
      credential_files[name] = expand_env(scalar(s, "credentials"), env, d.path + ".stringData");
    else if (auto b = d.node["data"]; b && b["credentials"])
      credential_files[name] = decode_base64(scalar(b, "credentials"));
    if (auto s = d.node["stringData"]; s && s["apiKey"]) {
      auto raw = scalar(s, "apiKey");
      secrets[name] = {expand_env(raw, env, d.path + ".stringData.apiKey"), env_reference(raw)};
    } else if (auto b = d.node["data"]; b && b["apiKey"]) {
      secrets[name] = {decode_base64(scalar(b, "apiKey")), ""};
    }
  }
  // What a policy gives its backends: an API key, or AWS credentials and a region.
  struct credentials {
    api_key key;
    std::optional<aws_credentials> aws;
    std::string region;
  };
  std::map<std::string, credentials> of_policy, of_backend;
  for (const auto& d : all("BackendSecurityPolicy")) {
    auto spec = d.node["spec"];
    auto type = scalar(spec, "type");
    credentials given;
    if (type == "AWSCredentials") {  // static keys, from a credentials file in a Secret
      auto aws = spec["awsCredentials"];
      given.region = scalar(aws, "region");
      auto file = aws["credentialsFile"];
      if (!file) {
        notes.push_back(fmt::format(
            "{}: only credentialsFile is supported (static keys); the environment's are used",
            d.path));
      } else {
        auto secret_name = scalar(file["secretRef"], "name");
        auto profile = scalar(file, "profile", "default");
        auto it = credential_files.find(secret_name);
        if (it == credential_files.end())
          throw config_error(fmt::format(
              "{}.spec.awsCredentials.credentialsFile.secretRef: no Secret \"{}\" with credentials",
              d.path, secret_name));
        given.aws = credentials_from_file(it->second, profile);
        if (!given.aws)
          throw config_error(fmt::format("{}: Secret \"{}\" has no profile \"{}\" with keys",
                                         d.path, secret_name, profile));
        given.aws->from = aws_credentials::origin::config;  // printed back redacted
      }
    } else {
      // The key types: each names its secret under its own field.
      std::string_view key_field = type == "APIKey"            ? "apiKey"
                                   : type == "AnthropicAPIKey" ? "anthropicAPIKey"
                                   : type == "AzureAPIKey"     ? "azureAPIKey"
                                                               : "";
      if (key_field.empty()) {
        notes.push_back(
            fmt::format("{}: type {} is not supported (APIKey, AnthropicAPIKey, AzureAPIKey, "
                        "AWSCredentials); ignored",
                        d.path, type));
        continue;
      }
      auto secret_name = scalar(spec[std::string(key_field)]["secretRef"], "name");
      auto it = secrets.find(secret_name);
      if (it == secrets.end())
        throw config_error(fmt::format("{}.spec.{}.secretRef: no Secret named \"{}\"", d.path,
                                       key_field, secret_name));
      given.key = it->second;
    }
    of_policy[scalar(d.node["metadata"], "name")] = given;
    if (auto targets = spec["targetRefs"]; targets && targets.IsSequence())
      for (const auto& t : targets) of_backend[scalar(t, "name")] = given;
  }

  // Backends: the network endpoints.
  std::map<std::string, std::string> endpoint_url;
  for (const auto& d : all("Backend")) {
    auto endpoints = d.node["spec"]["endpoints"];
    if (!endpoints || !endpoints.IsSequence() || endpoints.size() == 0)
      throw config_error(fmt::format("{}.spec.endpoints: required", d.path));
    auto e = endpoints[0];
    std::string host, port;
    if (e["ip"]) {
      host = scalar(e["ip"], "address");
      port = scalar(e["ip"], "port", "80");
    } else if (e["fqdn"]) {
      host = outside_docker(scalar(e["fqdn"], "hostname"), notes, d.path);
      port = scalar(e["fqdn"], "port", "443");
    } else {
      throw config_error(fmt::format("{}.spec.endpoints[0]: needs ip or fqdn", d.path));
    }
    if (endpoints.size() > 1)
      notes.push_back(fmt::format("{}: only the first endpoint is used", d.path));
    // Plain HTTP, except on 443 (Envoy's BackendTLSPolicy is not read).
    endpoint_url[scalar(d.node["metadata"], "name")] =
        fmt::format("{}://{}:{}/v1", port == "443" ? "https" : "http", host, port);
  }

  // AIServiceBackends: our backends.
  for (const auto& d : all("AIServiceBackend")) {
    auto name = scalar(d.node["metadata"], "name");
    auto spec = d.node["spec"];
    auto schema = scalar(spec["schema"], "name", "OpenAI");
    backend b;
    if (schema == "Anthropic") {
      b.schema = config::schema::anthropic;
      notes.push_back(translation_note(d.path, b.schema));
    } else if (schema == "AWSBedrock") {
      b.schema = config::schema::bedrock;
      b.max_tokens = 0;
      notes.push_back(translation_note(d.path, b.schema));
    } else if (schema != "OpenAI") {
      notes.push_back(
          fmt::format("{}: schema {} is not translated yet; sent as OpenAI", d.path, schema));
    }
    auto ref = scalar(spec["backendRef"], "name");
    auto url = endpoint_url.find(ref);
    if (url == endpoint_url.end())
      throw config_error(fmt::format("{}.spec.backendRef: no Backend named \"{}\"", d.path, ref));
    b.name = backend_name(name);
    b.url = url->second;
    // Bedrock's paths start at the host (/model/...), not at an OpenAI /v1.
    if (b.schema == config::schema::bedrock && b.url.ends_with("/v1"))
      b.url.resize(b.url.size() - 3);
    detail::validate_url(b.url, d.path);
    b.use_timeouts(g.timeouts);
    b.breaker = g.circuit_breaker;
    if (auto t = scalar(spec["timeouts"], "request"); !t.empty()) {
      // Envoy reads 0 as no timeout at all; here every wait has a deadline.
      if (auto parsed = parse_duration(t); parsed && detail::duration_in_range(*parsed))
        b.first_byte_timeout = *parsed;
      else
        notes.push_back(fmt::format(
            "{}.spec.timeouts.request: \"{}\" is not a timeout here (more than 0 and at most "
            "168h; Envoy's 0 means none), the default first_byte is used",
            d.path, t));
    }
    const credentials* given = nullptr;
    if (auto k = of_backend.find(name); k != of_backend.end()) given = &k->second;
    if (auto policy = scalar(spec["backendSecurityPolicyRef"], "name"); !policy.empty()) {
      auto k = of_policy.find(policy);
      if (k == of_policy.end())
        throw config_error(fmt::format(
            "{}.spec.backendSecurityPolicyRef: no BackendSecurityPolicy \"{}\"", d.path, policy));
      given = &k->second;
    }
    if (given) {
      b.api_key = given->key.value;
      b.api_key_ref = given->key.ref;
    }
    if (b.schema == config::schema::bedrock) {
      b.region = given && !given->region.empty()
                     ? given->region
                     : env("AWS_REGION").value_or(env("AWS_DEFAULT_REGION").value_or(""));
      if (b.region.empty())
        throw config_error(fmt::format(
            "{}: a Bedrock backend needs a region (an AWSCredentials policy's, or AWS_REGION)",
            d.path));
      if (given && given->aws)
        b.aws = *given->aws;
      else if (b.api_key.empty())  // a Bedrock API key needs no AWS keys
        b.aws = default_aws_credentials(env, "", d.path);
    }
    // Kubernetes would keep one object of a name; which one is a guess, so say so.
    if (g.find_backend(b.name))
      throw config_error(fmt::format(
          "{}: a backend named \"{}\" exists already (AIServiceBackend names must differ)", d.path,
          b.name));
    g.backends.push_back(std::move(b));
  }
  if (g.backends.empty()) throw config_error("no AIServiceBackend: there is nothing to route to");

  // Routes, in the order written; the first rule without matches becomes the default.
  std::optional<route> default_route;
  for (const auto& d : all("AIGatewayRoute")) {
    auto rules = d.node["spec"]["rules"];
    for (std::size_t ri = 0; rules && ri < rules.size(); ++ri) {
      auto rule = rules[ri];
      auto path = fmt::format("{}.spec.rules[{}]", d.path, ri);
      auto refs = rule["backendRefs"];
      if (!refs || refs.size() == 0)
        throw config_error(fmt::format("{}.backendRefs: required", path));
      // Every backendRef is a target; weights share the requests between those of one
      // priority.
      route target;
      for (std::size_t bi = 0; bi < refs.size(); ++bi) {
        route_target t;
        t.backend = backend_name(scalar(refs[bi], "name"));
        if (!g.find_backend(t.backend))
          throw config_error(fmt::format("{}.backendRefs[{}]: no AIServiceBackend named \"{}\"",
                                         path, bi, t.backend));
        t.model_override = scalar(refs[bi], "modelNameOverride");
        // A number field of the backendRef, in [0, max].
        auto number = [&](std::string_view key, const char* fallback, unsigned max,
                          std::string_view what) {
          auto text = scalar(refs[bi], key, fallback);
          auto n = detail::parse_number(text, 0, max);
          if (!n)
            throw config_error(fmt::format("{}.backendRefs[{}].{}: \"{}\" is not {} (0 to {})",
                                           path, bi, key, text, what, max));
          return *n;
        };
        t.weight = number("weight", "1", 1000000, "a weight");
        if (t.weight == 0) continue;  // Gateway API: weight 0 takes no traffic
        // Lower first; a higher level takes requests only when the lower ones are out.
        t.priority = number("priority", "0", 1000, "a priority");
        target.targets.push_back(std::move(t));
      }
      if (target.targets.empty())
        throw config_error(fmt::format("{}.backendRefs: every weight is 0", path));
      if (auto t = scalar(rule["timeouts"], "request"); !t.empty())
        notes.push_back(
            fmt::format("{}.timeouts.request: per-rule timeouts are not supported; use the "
                        "AIServiceBackend's",
                        path));

      auto matches = rule["matches"];
      if (!matches || matches.size() == 0) {
        if (!default_route) default_route = target;
        continue;
      }
      for (std::size_t mi = 0; mi < matches.size(); ++mi) {
        route r = target;
        bool anything = true, usable = true;
        std::vector<std::string> names;
        auto headers = matches[mi]["headers"];
        for (std::size_t hi = 0; headers && hi < headers.size(); ++hi) {
          auto h = headers[hi];
          auto name = scalar(h, "name");
          std::transform(name.begin(), name.end(), name.begin(),
                         [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
          // Gateway API (HTTPHeaderMatch): of entries with an equivalent name, only the
          // first counts; the others are ignored.
          if (std::find(names.begin(), names.end(), name) != names.end()) {
            notes.push_back(
                fmt::format("{}.matches[{}].headers[{}]: \"{}\" is matched already; only the first "
                            "match on a header counts, this one is ignored",
                            path, mi, hi, name));
            continue;
          }
          names.push_back(name);
          auto type = scalar(h, "type", "Exact");
          auto value = scalar(h, "value");
          bool regex = type == "RegularExpression";
          if (regex && matches_anything(value)) continue;
          std::string why;
          if (regex)
            why = detail::regex_error(value);
          else if (type != "Exact")
            why = fmt::format("type {} is not supported", type);
          if (!why.empty()) {
            notes.push_back(
                fmt::format("{}.matches[{}].headers[{}]: \"{}\": {}; this match is "
                            "skipped",
                            path, mi, hi, value, why));
            usable = false;
            break;
          }
          anything = false;
          if (name == kModelHeader) {
            r.model = value;
            r.model_regex = regex;
          } else {
            r.headers.push_back({name, value, regex});
          }
        }
        if (!usable) continue;
        if (anything) {
          if (!default_route) default_route = target;
          continue;
        }
        g.routes.push_back(std::move(r));
      }
    }
  }
  if (default_route) g.routes.push_back(std::move(*default_route));
  detail::finish_routes(
      g, "Add a rule without `matches` (or matching x-ai-eg-model with RegularExpression .*)");
  return g;
}

}  // namespace aigw::config::dialects
