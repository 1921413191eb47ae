#pragma once
// Private to the config module: reading YAML with the path of every value kept for error
// messages, shared by the native loader and the dialects of other gateways' configs.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "aigw/config/loader.hpp"

namespace aigw::config::detail {

// Reads one YAML mapping, remembering its path for error messages.
std::optional<unsigned> parse_number(std::string_view text, unsigned min, unsigned max);

// Whether `name` can name an environment variable (letters, digits, _), as a ${VAR}
// reference, LiteLLM's os.environ/VAR and archgw's $VAR do: --print-config writes each as
// ${VAR}, which must load again.
inline bool is_variable_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// A duration setting is more than 0 (every wait has a deadline) and at most a week.
constexpr duration kMaxDuration = std::chrono::hours(24 * 7);
inline bool duration_in_range(duration d) {
  return d.count() > 0 && d <= kMaxDuration;
}

class reader {
 public:
  reader(const YAML::Node& node, std::string path, const env_lookup& env)
      : node_(node), path_(std::move(path)), env_(env) {}

  const std::string& path() const { return path_; }
  std::string child_path(std::string_view key) const {
    return path_.empty() ? std::string(key) : fmt::format("{}.{}", path_, key);
  }

  void require_map() const {
    if (!node_.IsMap())
      throw config_error(fmt::format("{}: expected a mapping (key: value)", display(path_)));
  }

  // The keys of this mapping, in order. A key written twice is refused: YAML forbids it, and
  // yaml-cpp keeps both but reads the first, so the second would be silently ignored.
  std::vector<std::string> keys() const {
    require_map();
    std::vector<std::string> out;
    for (const auto& entry : node_) {
      auto key = entry.first.as<std::string>();
      if (std::find(out.begin(), out.end(), key) != out.end())
        throw config_error(fmt::format("{}: is written twice", child_path(key)));
      out.push_back(std::move(key));
    }
    return out;
  }

  void allow_only(std::initializer_list<std::string_view> keys) const {
    for (const auto& key : this->keys()) {
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
        std::string known;
        for (auto k : keys) known += fmt::format("{}{}", known.empty() ? "" : ", ", k);
        throw config_error(
            fmt::format("{}: unknown key (allowed here: {})", child_path(key), known));
      }
    }
  }

  bool has(std::string_view key) const { return bool(node_[std::string(key)]); }
  YAML::Node raw(std::string_view key) const { return node_[std::string(key)]; }
  reader child(std::string_view key) const {
    return reader(node_[std::string(key)], child_path(key), env_);
  }

  // The scalar as written, without ${VAR} expansion (dialects have their own env syntax).
  std::optional<std::string> raw_string(std::string_view key) const {
    auto n = raw(key);
    if (!n) return std::nullopt;
    if (!n.IsScalar())
      throw config_error(fmt::format("{}: expected a single value", child_path(key)));
    return n.Scalar();
  }

  // "${VAR}" when the scalar is exactly one environment reference, else "": how a secret was
  // named, for --print-config (which never prints the secret itself, nor a default written
  // after ":-", which may be the secret).
  std::string env_reference(std::string_view key) const {
    auto s = raw_string(key);
    return s ? config::env_reference(*s) : std::string();
  }

  std::optional<std::string> string(std::string_view key) const {
    auto n = raw(key);
    if (!n) return std::nullopt;
    if (!n.IsScalar())
      throw config_error(fmt::format("{}: expected a single value", child_path(key)));
    return expand_env(n.Scalar(), env_, child_path(key));
  }

  std::string required_string(std::string_view key) const {
    auto s = string(key);
    if (!s || s->empty()) throw config_error(fmt::format("{}: required", child_path(key)));
    return *s;
  }

  std::optional<duration> get_duration(std::string_view key) const {
    auto s = string(key);
    if (!s) return std::nullopt;
    auto d = parse_duration(*s);
    if (!d)
      throw config_error(fmt::format(
          "{}: \"{}\" is not a duration (write e.g. 250ms, 5s, 3m or 1h)", child_path(key), *s));
    if (!duration_in_range(*d))
      throw config_error(
          fmt::format("{}: \"{}\" must be more than 0 and at most 168h", child_path(key), *s));
    return d;
  }

  std::optional<std::uint64_t> get_size(std::string_view key) const {
    auto s = string(key);
    if (!s) return std::nullopt;
    auto v = parse_size(*s);
    if (!v)
      throw config_error(fmt::format("{}: \"{}\" is not a size (write e.g. 512B, 64KiB or 32MiB)",
                                     child_path(key), *s));
    return v;
  }

  // A whole number in [min, max]; else an error naming the path and `what` it should be
  // ("a count (1 or more)").
  std::optional<unsigned> get_number(std::string_view key, unsigned min, unsigned max,
                                     std::string_view what) const {
    auto s = string(key);
    if (!s) return std::nullopt;
    auto n = parse_number(*s, min, max);
    if (!n) throw config_error(fmt::format("{}: \"{}\" is not {}", child_path(key), *s, what));
    return n;
  }

  std::optional<bool> get_bool(std::string_view key) const {
    auto s = string(key);
    if (!s) return std::nullopt;
    if (*s == "true") return true;
    if (*s == "false") return false;
    throw config_error(fmt::format("{}: expected true or false, got \"{}\"", child_path(key), *s));
  }

  const YAML::Node& node() const { return node_; }
  const env_lookup& env() const { return env_; }

  static std::string display(const std::string& path) { return path.empty() ? "(top)" : path; }

 private:
  YAML::Node node_;
  std::string path_;
  const env_lookup& env_;
};

// Throws unless `url` is an absolute http(s) URL with a host and no credentials or query.
void validate_url(const std::string& url, const std::string& path);
// Checks that a default route, if any, is last; adds one for a lone backend; else throws
// with the fix. `how_to_add` says how to write a default in the config's own language.
void finish_routes(gateway& g, const std::string& how_to_add);
// The native config from its parsed YAML (the one place that reads it).
gateway load_native(const YAML::Node& root, const env_lookup& env);
// A whole decimal number in [min, max], or nullopt (no sign, no spaces, no trailing text).
std::optional<unsigned> parse_number(std::string_view text, unsigned min, unsigned max);
// Why an RE2 pattern does not compile, or "" when it does.
std::string regex_error(const std::string& pattern);
// The YAML keys of a mapping that are not in `known`, for "ignored" warnings.
std::vector<std::string> unknown_keys(const YAML::Node& map,
                                      std::initializer_list<std::string_view> known);

}  // namespace aigw::config::detail
