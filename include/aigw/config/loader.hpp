#pragma once
// YAML to config::gateway. Every error is fatal at start-up and names the YAML path and
// what to do, e.g. `routes[2].backend: unknown backend "ollma" (known: ollama, openai)`.
// Unknown keys are errors: a typo must not become a silent default.
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "aigw/config/config.hpp"

namespace aigw::config {

class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Looks up an environment variable; the default reads the process environment.
using env_lookup = std::function<std::optional<std::string>(std::string_view)>;
std::optional<std::string> process_env(std::string_view name);

// Expands ${VAR} and ${VAR:-default}; "$$" is a literal "$". An unset ${VAR} without a
// default is an error (an empty API key would only show up later as a confusing 401).
std::string expand_env(std::string_view text, const env_lookup& env, std::string_view path);
// How a secret written as exactly one reference is named back (--print-config, /config):
// "${VAR}" for "${VAR}" and for "${VAR:-default}" (never the default, which may be the
// secret itself); "" when `raw` is anything else. Every dialect that takes ${VAR} names its
// secrets by this one rule.
std::string env_reference(std::string_view raw);

gateway load_from_string(std::string_view yaml, const env_lookup& env = process_env);

// The config of a start without --config: one default backend, OPENAI_BASE_URL (with
// OPENAI_API_KEY) when set, else a local Ollama at http://127.0.0.1:11434/v1.
gateway zero_config(const env_lookup& env = process_env);

// Refuses a backend that is the gateway's own listen address (a client's OPENAI_BASE_URL
// exported into the gateway's environment would make it proxy to itself).
void refuse_self_loop(const gateway& g);

// Applies --listen HOST:PORT over whatever the config said.
void override_listen(gateway& g, const std::string& listen);

// Other gateways' configs, turned into the same structs (config/dialects/).
enum class config_format { automatic, native, envoy_ai_gateway, archgw, litellm };
// "auto", "native", "envoy" (Envoy AI Gateway, `aigw run` files), "archgw", "litellm".
std::optional<config_format> parse_config_format(std::string_view name);
std::string_view format_name(config_format format);

struct loaded_config {
  gateway config;
  config_format format;               // the one detected, with automatic
  std::vector<std::string> warnings;  // what was ignored or approximated, one line each
};
// Detects the format (with automatic): Kubernetes-style documents (apiVersion/kind) are Envoy
// AI Gateway, `llm_providers`/`model_providers` archgw, `model_list` LiteLLM, else native.
loaded_config load_config(std::string_view yaml, config_format format,
                          const env_lookup& env = process_env);
loaded_config load_config_file(const std::string& file, config_format format,
                               const env_lookup& env = process_env);

// The native YAML of a config (for --print-config): every secret redacted, keys taken from
// the environment shown as their ${VAR}. For whoever can reach the admin listener (`/config`),
// `hide_key_hashes` redacts the clients' key_sha256 too: an unsalted hash of a short key is
// a guess away from the key.
std::string print_native(const gateway& g, bool hide_key_hashes = false);

}  // namespace aigw::config
