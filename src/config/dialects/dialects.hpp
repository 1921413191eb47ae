#pragma once
// Private to the config module: each other gateway's config language turned into
// config::gateway. Each adds a line to `warnings` for every field it ignores or approximates:
// nothing is dropped silently.
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "aigw/config/loader.hpp"

namespace aigw::config::dialects {

using warnings = std::vector<std::string>;

gateway from_envoy_ai_gateway(const std::vector<YAML::Node>& documents, const env_lookup& env,
                              warnings& notes);
gateway from_archgw(const YAML::Node& root, const env_lookup& env, warnings& notes);
gateway from_litellm(const YAML::Node& root, const env_lookup& env, warnings& notes);

// Base URLs (with the OpenAI-compatible path) of providers named by a "provider/model" prefix.
const char* provider_base_url(std::string_view provider);
// The schema a provider prefix speaks ("anthropic/..." is Anthropic's Messages API); the
// others known are OpenAI-compatible.
config::schema provider_schema(std::string_view provider);
// What a dialect warns about a backend of a translated schema: what the translation
// approximates.
std::string translation_note(const std::string& path, config::schema schema);
// "http://host:port" made a base URL: an empty path becomes "/v1" (the OpenAI API root).
std::string with_api_root(std::string url);
// `host.docker.internal` means the Docker host; outside a container that is this machine.
std::string outside_docker(std::string host, warnings& notes, const std::string& path);
// Backend names allowed by the native config: letters, digits and - _ . : /; others become -.
std::string backend_name(std::string_view text);

}  // namespace aigw::config::dialects
