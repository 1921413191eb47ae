#include "aigw/config/loader.hpp"

#include "aws_credentials.hpp"
#include "yaml_reader.hpp"

#include <re2/re2.h>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <boost/url/parse.hpp>

namespace aigw::config {

std::optional<std::string> process_env(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  if (!value) return std::nullopt;
  return std::string(value);
}

std::string env_reference(std::string_view raw) {
  bool one = raw.starts_with("${") && raw.ends_with("}") && raw.find('}') == raw.size() - 1;
  if (!one) return std::string();
  auto fallback = raw.find(":-");
  return fallback == std::string_view::npos ? std::string(raw)
                                            : "${" + std::string(raw.substr(2, fallback - 2)) + "}";
}

std::string expand_env(std::string_view text, const env_lookup& env, std::string_view path) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$' || i + 1 == text.size()) {
      out += text[i];
      continue;
    }
    if (text[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (text[i + 1] != '{') {
      out += '$';
      continue;
    }
    auto close = text.find('}', i + 2);
    if (close == std::string_view::npos)
      throw config_error(fmt::format("{}: unterminated \"${{\" in value", path));
    auto inner = text.substr(i + 2, close - i - 2);
    std::optional<std::string_view> fallback;
    if (auto sep = inner.find(":-"); sep != std::string_view::npos) {
      fallback = inner.substr(sep + 2);
      inner = inner.substr(0, sep);
    }
    // The text inside the braces is not echoed: it may be a secret pasted in by mistake.
    if (!detail::is_variable_name(inner))
      throw config_error(fmt::format(
          "{}: a \"${{...}}\" reference must name a variable (letters, digits, _)", path));
    auto value = env(inner);
    if (value && !(fallback && value->empty()))
      out += *value;
    else if (fallback)
      out += *fallback;
    else
      throw config_error(
          fmt::format("{}: environment variable {} is not set (set it, or write ${{{}:-default}})",
                      path, inner, inner));
    i = close;
  }
  return out;
}

namespace {

using detail::reader;
using detail::validate_url;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// "host:port" ("[v6]:port", ":port" for every address) into `host` and `port`.
void parse_host_port(const std::string& text, const std::string& path, std::string& host_out,
                     std::uint16_t& port_out) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos)
    throw config_error(fmt::format("{}: \"{}\" needs a port, e.g. 127.0.0.1:1975", path, text));
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  auto port_text = std::string_view(text).substr(colon + 1);
  auto port = detail::parse_number(port_text, 0, 65535);
  if (!port) throw config_error(fmt::format("{}: \"{}\" is not a valid port", path, port_text));
  host_out = host;
  port_out = static_cast<std::uint16_t>(*port);
}

void parse_listen(const std::string& text, const std::string& path, gateway& out) {
  parse_host_port(text, path, out.listen_host, out.listen_port);
}

void read_timeouts(const reader& r, timeouts& out) {
  r.allow_only({"connect", "first_byte", "idle", "client_header"});
  if (auto d = r.get_duration("connect")) out.connect = *d;
  if (auto d = r.get_duration("first_byte")) out.first_byte = *d;
  if (auto d = r.get_duration("idle")) out.idle = *d;
  if (auto d = r.get_duration("client_header")) out.client_header = *d;
}

// `redis:` url (redis://host[:port][/database]; credentials go in username and password,
// never in the URL, which is printed), timeout, on_redis_error, key_prefix.
void read_redis(const reader& r, redis_settings& out) {
  r.allow_only({"url", "username", "password", "timeout", "charge_interval", "on_redis_error",
                "key_prefix"});
  auto url = r.required_string("url");
  auto path = r.child_path("url");
  std::string_view rest = url;
  if (rest.starts_with("rediss://"))
    throw config_error(fmt::format(
        "{}: TLS to Redis (rediss://) is not supported; reach Redis over a private network or a "
        "local TLS tunnel",
        path));
  if (!rest.starts_with("redis://"))
    throw config_error(
        fmt::format("{}: write redis://host:port, e.g. redis://127.0.0.1:6379", path));
  rest.remove_prefix(8);
  if (rest.find('@') != std::string_view::npos)
    throw config_error(
        fmt::format("{}: put credentials in username and password, not in the URL", path));
  std::string_view database;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    database = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  std::string host_port(rest);
  if (host_port.rfind(':') == std::string::npos || host_port.back() == ']') host_port += ":6379";
  parse_host_port(host_port, path, out.host, out.port);
  if (rest.empty() || rest.starts_with(":") || out.port == 0)
    throw config_error(fmt::format("{}: \"{}\" needs a host and a port", path, url));
  if (!database.empty()) {
    auto n = detail::parse_number(database, 0, 1000);
    if (!n) throw config_error(fmt::format("{}: \"{}\" is not a database number", path, database));
    out.database = static_cast<unsigned>(*n);
  }
  out.username = r.string("username").value_or("");
  out.password = r.string("password").value_or("");
  out.password_ref = r.env_reference("password");
  if (!out.username.empty() && out.password.empty())
    throw config_error(fmt::format("{}: a username needs a password", r.path()));
  for (const auto* text : {&out.username, &out.password})
    if (text->find_first_of("\r\n") != std::string::npos)
      throw config_error(fmt::format("{}: credentials cannot hold line breaks", r.path()));
  if (auto d = r.get_duration("timeout")) {
    if (*d < std::chrono::milliseconds(1) || *d > std::chrono::seconds(10))
      throw config_error(fmt::format("{}: between 1ms and 10s", r.child_path("timeout")));
    out.timeout = *d;
  }
  if (auto text = r.string("charge_interval"); text && (*text == "0" || *text == "0ms")) {
    out.charge_interval = duration::zero();
  } else if (auto d = r.get_duration("charge_interval")) {
    if (*d > std::chrono::seconds(1))
      throw config_error(
          fmt::format("{}: at most 1s (0: each charge at once)", r.child_path("charge_interval")));
    out.charge_interval = *d;
  }
  if (auto policy = r.string("on_redis_error")) {
    if (*policy != "fail_open" && *policy != "fail_closed")
      throw config_error(fmt::format("{}: \"{}\" is not fail_open or fail_closed",
                                     r.child_path("on_redis_error"), *policy));
    out.fail_open = *policy == "fail_open";
  }
  if (auto prefix = r.string("key_prefix")) {
    bool plain = !prefix->empty() && prefix->size() <= 64 &&
                 std::all_of(prefix->begin(), prefix->end(), [](unsigned char c) {
                   return std::isalnum(c) || c == '_' || c == '-' || c == ':' || c == '.';
                 });
    if (!plain)
      throw config_error(
          fmt::format("{}: up to 64 letters, digits and _ - : .", r.child_path("key_prefix")));
    out.key_prefix = *prefix;
  }
}

// `circuit_breaker: off`, or a map changing some of the settings in `out`.
void read_circuit_breaker(const reader& parent, circuit_breaker& out) {
  if (auto flag = parent.raw("circuit_breaker"); flag && flag.IsScalar()) {
    if (flag.Scalar() != "off" && flag.Scalar() != "false")
      throw config_error(
          fmt::format("{}: write off, or a map of settings", parent.child_path("circuit_breaker")));
    out.enabled = false;
    return;
  }
  auto r = parent.child("circuit_breaker");
  r.allow_only({"consecutive_failures", "failure_rate", "min_requests", "window", "cooldown"});
  out.enabled = true;
  if (auto n = r.get_number("consecutive_failures", 1, 1000000, "a count (1 or more)"))
    out.consecutive_failures = *n;
  if (auto v = r.string("failure_rate")) {
    char* end = nullptr;
    double rate = std::strtod(v->c_str(), &end);
    if (end == v->c_str() || *end != '\0' || !(rate >= 0 && rate <= 1))
      throw config_error(fmt::format("{}: \"{}\" is not a share from 0 (off) to 1",
                                     r.child_path("failure_rate"), *v));
    out.failure_rate = rate;
  }
  if (auto n = r.get_number("min_requests", 1, 1000000, "a count (1 or more)"))
    out.min_requests = *n;
  if (auto d = r.get_duration("window")) out.window = *d;
  if (auto d = r.get_duration("cooldown")) out.cooldown = *d;
  if (out.window.count() <= 0 || out.cooldown.count() <= 0)
    throw config_error(fmt::format("{}: window and cooldown must be longer than 0", r.path()));
}

// `schema: bedrock`: the region, the model ids, a default max_tokens, the credentials.
void read_bedrock(const reader& r, backend& b) {
  b.schema = config::schema::bedrock;
  b.region = r.required_string("region");
  if (!is_aws_region(b.region))
    throw config_error(fmt::format("{}: \"{}\" is not an AWS region (like us-east-1)",
                                   r.child_path("region"), b.region));
  b.max_tokens = 0;
  if (auto n = r.get_number("max_tokens", 1, 1000000, "a token count (1 or more)"))
    b.max_tokens = *n;
  if (r.has("model_ids")) {
    auto ids = r.child("model_ids");
    for (const auto& model : ids.keys()) {
      b.deployments.emplace_back(model, ids.required_string(model));
    }
  }
  std::string profile;
  if (r.has("aws")) {
    auto a = r.child("aws");
    a.allow_only({"access_key_id", "secret_access_key", "session_token", "profile"});
    profile = a.string("profile").value_or("");
    if (a.has("access_key_id") || a.has("secret_access_key")) {
      if (!profile.empty())
        throw config_error(fmt::format("{}: keys or a profile, not both", a.path()));
      auto& c = b.aws;
      c.from = aws_credentials::origin::config;
      c.access_key_id = a.required_string("access_key_id");
      c.secret_access_key = a.required_string("secret_access_key");
      c.session_token = a.string("session_token").value_or("");
      c.access_key_id_ref = a.env_reference("access_key_id");
      c.secret_access_key_ref = a.env_reference("secret_access_key");
      c.session_token_ref = a.env_reference("session_token");
      if (c.access_key_id.empty() || c.secret_access_key.empty())
        throw config_error(
            fmt::format("{}: access_key_id and secret_access_key are empty", a.path()));
      return;
    }
  }
  // A Bedrock API key (api_key) is sent as a bearer token: no signature, no AWS keys needed.
  if (r.has("api_key") && profile.empty()) return;
  b.aws = default_aws_credentials(r.env(), profile, r.path());
}

// A count of requests or tokens: a whole number from 0.
std::uint64_t read_count(const reader& r, std::string_view key, std::uint64_t fallback) {
  auto text = r.string(key);
  if (!text) return fallback;
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
  if (ec != std::errc() || end != text->data() + text->size() || n > (1ull << 38))
    throw config_error(
        fmt::format("{}: \"{}\" is not a count (0 to 2^38)", r.child_path(key), *text));
  return n;
}

// `clients:` entries: name, key_sha256, models, limits, labels.
void read_clients(const reader& list, std::vector<client>& out) {
  if (!list.node().IsSequence())
    throw config_error(fmt::format("{}: expected a list", list.path()));
  for (std::size_t i = 0; i < list.node().size(); ++i) {
    reader r(list.node()[i], fmt::format("{}[{}]", list.path(), i), list.env());
    r.require_map();
    r.allow_only({"name", "key_sha256", "models", "limits", "labels"});
    client c;
    c.name = r.required_string("name");
    if (c.name.empty() || c.name.size() > 64 ||
        !std::all_of(c.name.begin(), c.name.end(), is_backend_name_char))
      throw config_error(
          fmt::format("{}: \"{}\" may only use letters, digits and - _ . : / (at "
                      "most 64)",
                      r.child_path("name"), c.name));
    c.key_sha256 = r.required_string("key_sha256");
    bool hex = c.key_sha256.size() == 64 &&
               std::all_of(c.key_sha256.begin(), c.key_sha256.end(), [](char ch) {
                 return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
               });
    if (!hex)
      throw config_error(fmt::format(
          "{}: not a SHA-256 in lower-case hex (aigw-proxy hash-key prints it for a key)",
          r.child_path("key_sha256")));
    if (r.has("models")) {
      auto m = r.child("models");
      if (!m.node().IsSequence())
        throw config_error(fmt::format("{}: expected a list of model globs", m.path()));
      for (const auto& item : m.node()) {
        if (!item.IsScalar())
          throw config_error(fmt::format("{}: expected a list of model globs", m.path()));
        c.models.push_back(item.Scalar());
      }
    }
    if (r.has("limits")) {
      auto l = r.child("limits");
      l.allow_only({"requests_per_minute", "tokens_per_minute", "tokens_per_day", "tokens",
                    "default_output"});
      c.limits.requests_per_minute = read_count(l, "requests_per_minute", 0);
      c.limits.tokens_per_minute = read_count(l, "tokens_per_minute", 0);
      c.limits.tokens_per_day = read_count(l, "tokens_per_day", 0);
      c.limits.default_output = read_count(l, "default_output", 1024);
      if (auto kind = l.string("tokens")) {
        if (*kind == "total")
          c.limits.tokens = client::budget::kind::total;
        else if (*kind == "input")
          c.limits.tokens = client::budget::kind::input;
        else if (*kind == "output")
          c.limits.tokens = client::budget::kind::output;
        else
          throw config_error(fmt::format("{}: \"{}\" is not total, input or output",
                                         l.child_path("tokens"), *kind));
      }
    }
    if (r.has("labels")) {
      auto l = r.child("labels");
      for (const auto& key : l.keys()) {
        c.labels.emplace_back(key, l.required_string(key));
      }
    }
    out.push_back(std::move(c));
  }
}

// A keys file: YAML with a `clients:` list, read at start and at each reload.
void read_clients_file(const std::string& file, const env_lookup& env, std::vector<client>& out) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::Exception& e) {
    throw config_error(fmt::format("clients_file: {}: {}", file, e.what()));
  }
  reader top(root, fmt::format("{}:", file), env);
  top.require_map();
  top.allow_only({"clients"});
  if (top.has("clients")) read_clients(top.child("clients"), out);
}

// Names and keys are each one client's.
void check_clients(const std::vector<client>& clients) {
  std::set<std::string_view> names, keys;
  for (const auto& c : clients) {
    // A request that reserves the default output must be able to fit at all.
    const auto& l = c.limits;
    for (auto budget : {l.tokens_per_minute, l.tokens_per_day})
      if (budget && l.tokens != client::budget::kind::input && l.default_output > budget)
        throw config_error(fmt::format(
            "clients: \"{}\": default_output ({}) is over its token budget ({}): no request "
            "without max_tokens could ever fit",
            c.name, l.default_output, budget));
    if (!names.insert(c.name).second)
      throw config_error(fmt::format("clients: \"{}\" is named twice", c.name));
    if (!keys.insert(c.key_sha256).second)
      throw config_error(fmt::format("clients: \"{}\" has another client's key", c.name));
  }
}

backend read_backend(const reader& r, const gateway& g) {
  const timeouts& defaults = g.timeouts;
  r.allow_only({"name", "url", "api_key", "ca_file", "tls_insecure_skip_verify", "timeouts",
                "schema", "api_version", "deployments", "max_tokens", "region", "aws", "model_ids",
                "circuit_breaker"});
  backend b;
  b.name = r.required_string("name");
  auto schema = r.string("schema").value_or("openai");
  if (schema == "openai") {
    b.schema = config::schema::openai;
  } else if (schema == "azure-openai") {
    b.schema = config::schema::azure_openai;
    b.api_version = r.required_string("api_version");
    if (r.has("deployments")) {
      auto d = r.child("deployments");
      for (const auto& model : d.keys()) {
        b.deployments.emplace_back(model, d.required_string(model));
      }
    }
  } else if (schema == "anthropic") {
    b.schema = config::schema::anthropic;
    if (auto n = r.get_number("max_tokens", 1, 1000000, "a token count (1 or more)"))
      b.max_tokens = *n;
  } else if (schema == "bedrock") {
    read_bedrock(r, b);
  } else {
    throw config_error(
        fmt::format("{}: \"{}\" is not a schema (openai, azure-openai, anthropic or bedrock)",
                    r.child_path("schema"), schema));
  }
  bool takes_max_tokens =
      b.schema == config::schema::anthropic || b.schema == config::schema::bedrock;
  if (!takes_max_tokens && r.has("max_tokens"))
    throw config_error(fmt::format("{}: max_tokens needs schema: anthropic or bedrock", r.path()));
  if (b.schema != config::schema::bedrock)
    for (auto key : {"region", "aws", "model_ids"})
      if (r.has(key))
        throw config_error(fmt::format("{}: {} needs schema: bedrock", r.path(), key));
  if (b.schema != config::schema::azure_openai && (r.has("api_version") || r.has("deployments")))
    throw config_error(
        fmt::format("{}: api_version and deployments need schema: azure-openai", r.path()));
  if (!std::all_of(b.name.begin(), b.name.end(), is_backend_name_char))
    throw config_error(fmt::format("{}: \"{}\" may only use letters, digits and - _ . : /",
                                   r.child_path("name"), b.name));
  // A Bedrock backend's URL defaults to its region's runtime endpoint.
  b.url = b.schema == config::schema::bedrock && !r.has("url")
              ? fmt::format("https://bedrock-runtime.{}.amazonaws.com", b.region)
              : r.required_string("url");
  validate_url(b.url, r.child_path("url"));
  b.api_key = r.string("api_key").value_or("");
  b.api_key_ref = r.env_reference("api_key");
  b.ca_file = r.string("ca_file").value_or("");
  b.tls_insecure_skip_verify = r.get_bool("tls_insecure_skip_verify").value_or(false);
  timeouts t = defaults;
  if (r.has("timeouts")) {
    auto tr = r.child("timeouts");
    tr.allow_only({"connect", "first_byte", "idle"});
    read_timeouts(tr, t);
  }
  b.use_timeouts(t);
  b.breaker = g.circuit_breaker;
  if (r.has("circuit_breaker")) read_circuit_breaker(r, b.breaker);
  return b;
}

std::string known_backends(const gateway& g) {
  std::string names;
  for (const auto& b : g.backends) names += fmt::format("{}{}", names.empty() ? "" : ", ", b.name);
  return names;
}

// A match value: a plain scalar (exact, or a glob for models), or `{ regex: "..." }` (RE2,
// matching the whole value), checked here so a bad pattern fails at start-up.
std::optional<std::pair<std::string, bool>> read_pattern(const reader& parent,
                                                         std::string_view key) {
  auto node = parent.raw(key);
  if (!node) return std::nullopt;
  if (!node.IsMap()) return std::pair{parent.string(key).value_or(""), false};
  auto r = parent.child(key);
  r.allow_only({"regex"});
  auto pattern = r.required_string("regex");
  if (auto error = detail::regex_error(pattern); !error.empty())
    throw config_error(
        fmt::format("{}: not a valid regular expression: {}", r.child_path("regex"), error));
  return std::pair{pattern, true};
}

route_target read_target(const reader& r, const gateway& g) {
  route_target t;
  t.backend = r.required_string("backend");
  t.model_override = r.string("model_override").value_or("");
  if (!g.find_backend(t.backend))
    throw config_error(fmt::format("{}: unknown backend \"{}\" (known: {})",
                                   r.child_path("backend"), t.backend, known_backends(g)));
  return t;
}

// `retry: off`, or { attempts, on: [connect, 5xx, 429, timeout], backoff }.
void read_retry(const reader& parent, retry_policy& out) {
  if (auto flag = parent.raw("retry"); flag && flag.IsScalar()) {
    if (flag.Scalar() != "off" && flag.Scalar() != "false")
      throw config_error(
          fmt::format("{}: write off, or a map of settings", parent.child_path("retry")));
    out.attempts = 1;
    return;
  }
  auto r = parent.child("retry");
  r.allow_only({"attempts", "on", "backoff"});
  if (auto n = r.get_number("attempts", 1, 100, "a number of tries (1 to 100)")) out.attempts = *n;
  if (auto on = r.raw("on")) {
    if (!on.IsSequence())
      throw config_error(
          fmt::format("{}: expected a list of connect, 5xx, 429, timeout", r.child_path("on")));
    out.on_connect = out.on_5xx = out.on_429 = out.on_timeout = false;
    for (std::size_t i = 0; i < on.size(); ++i) {
      auto what = on[i].IsScalar() ? on[i].Scalar() : std::string();
      if (what == "connect")
        out.on_connect = true;
      else if (what == "5xx")
        out.on_5xx = true;
      else if (what == "429")
        out.on_429 = true;
      else if (what == "timeout")
        out.on_timeout = true;
      else
        throw config_error(fmt::format("{}[{}]: \"{}\" is not one of connect, 5xx, 429, timeout",
                                       r.child_path("on"), i, what));
    }
  }
  if (auto d = r.get_duration("backoff")) out.backoff = *d;
}

route read_route(const reader& r, const gateway& g) {
  r.allow_only({"match", "backend", "model_override", "backends", "retry", "resume"});
  route out;
  if (r.has("retry")) read_retry(r, out.retry);
  out.resume = r.get_bool("resume").value_or(false);
  if (r.has("backends")) {
    // Several targets sharing the requests by weight.
    if (r.has("backend") || r.has("model_override"))
      throw config_error(fmt::format(
          "{}: write either backend (with model_override) or backends, not both", r.path()));
    auto list = r.raw("backends");
    if (!list.IsSequence() || list.size() == 0)
      throw config_error(
          fmt::format("{}: expected a list of {{ backend, weight }}", r.child_path("backends")));
    for (std::size_t i = 0; i < list.size(); ++i) {
      reader t(list[i], fmt::format("{}[{}]", r.child_path("backends"), i), r.env());
      t.allow_only({"backend", "weight", "model_override", "priority"});
      auto target = read_target(t, g);
      if (auto p = t.get_number("priority", 0, 1000, "a priority (0, first, to 1000)"))
        target.priority = *p;
      if (auto w = t.get_number("weight", 1, 1000000, "a weight (1 to 1000000)"))
        target.weight = *w;
      out.targets.push_back(std::move(target));
    }
  } else {
    out.targets.push_back(read_target(r, g));
  }
  if (!r.has("match")) return out;
  auto m = r.child("match");
  m.allow_only({"model", "headers"});
  if (auto model = read_pattern(m, "model")) {
    out.model = model->first;
    out.model_regex = model->second;
  }
  if (out.model && out.model->empty())
    throw config_error(fmt::format("{}: must not be empty", m.child_path("model")));
  if (m.has("headers")) {
    auto h = m.child("headers");
    for (const auto& name : h.keys()) {
      // Header names are case-insensitive: X-Team and x-team are one header, matched once.
      auto lowered = lower(name);
      bool twice = std::any_of(out.headers.begin(), out.headers.end(),
                               [&](const auto& seen) { return seen.name == lowered; });
      if (twice) throw config_error(fmt::format("{}: is matched twice", h.child_path(name)));
      if (auto value = read_pattern(h, name))
        out.headers.push_back({std::move(lowered), value->first, value->second});
    }
  }
  if (out.is_default())
    throw config_error(
        fmt::format("{}: is empty; remove `match` to make this the default route", m.path()));
  return out;
}

void read_routes(const reader& top, gateway& g) {
  if (top.has("routes")) {
    auto routes = top.raw("routes");
    if (!routes.IsSequence()) throw config_error("routes: expected a list of routes");
    for (size_t i = 0; i < routes.size(); ++i) {
      reader r(routes[i], fmt::format("routes[{}]", i), top.env());
      g.routes.push_back(read_route(r, g));
    }
  }
  detail::finish_routes(g, fmt::format("Add a last route without `match`, e.g.\n"
                                       "  routes:\n    ...\n    - backend: {}",
                                       g.backends.front().name));
}

}  // namespace

namespace detail {

void validate_url(const std::string& url, const std::string& path) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed)
    throw config_error(fmt::format(
        "{}: \"{}\" is not an absolute URL (write e.g. http://127.0.0.1:11434/v1)", path, url));
  auto scheme = parsed->scheme();
  if (scheme != "http" && scheme != "https")
    throw config_error(fmt::format("{}: scheme must be http or https", path));
  if (parsed->host().empty()) throw config_error(fmt::format("{}: the URL has no host", path));
  if (parsed->has_userinfo())
    throw config_error(fmt::format("{}: put credentials in api_key, not in the URL", path));
  if (parsed->has_query() || parsed->has_fragment())
    throw config_error(fmt::format("{}: the URL must not have a query or fragment", path));
}

void finish_routes(gateway& g, const std::string& how_to_add) {
  for (size_t i = 0; i + 1 < g.routes.size(); ++i) {
    if (g.routes[i].is_default())
      throw config_error(fmt::format(
          "routes[{}]: a route without a match is the default and must be the last route "
          "(routes after it could never match)",
          i));
  }
  if (!g.routes.empty() && g.routes.back().is_default()) return;
  if (g.backends.size() == 1) {
    g.routes.push_back(route::to(g.backends.front().name));
    return;
  }
  throw config_error(fmt::format(
      "routes: no default route. {}\nso that requests no other route matches have somewhere "
      "to go",
      how_to_add));
}

std::optional<unsigned> parse_number(std::string_view text, unsigned min, unsigned max) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < min || value > max)
    return std::nullopt;
  return value;
}

std::string regex_error(const std::string& pattern) {
  re2::RE2 compiled(pattern, re2::RE2::Quiet);
  return compiled.ok() ? std::string() : compiled.error();
}

std::vector<std::string> unknown_keys(const YAML::Node& map,
                                      std::initializer_list<std::string_view> known) {
  std::vector<std::string> out;
  if (!map.IsMap()) return out;
  for (const auto& entry : map) {
    auto key = entry.first.Scalar();
    if (std::find(known.begin(), known.end(), key) == known.end()) out.push_back(key);
  }
  return out;
}

}  // namespace detail

const backend* gateway::find_backend(std::string_view name) const {
  for (const auto& b : backends)
    if (b.name == name) return &b;
  return nullptr;
}

gateway load_from_string(std::string_view yaml, const env_lookup& env) {
  return load_config(yaml, config_format::native, env).config;
}

namespace detail {
gateway load_native(const YAML::Node& root, const env_lookup& env) {
  reader top(root, "", env);
  top.allow_only({"listen", "admin", "workers", "access_log", "access_log_format", "prices",
                  "response_headers", "object_affinity", "object_affinity_key", "metrics", "limits",
                  "timeouts", "circuit_breaker", "drain_timeout", "backends", "routes", "clients",
                  "clients_file", "redis"});

  gateway g;
  if (auto listen = top.string("listen")) parse_listen(*listen, "listen", g);
  if (auto admin = top.string("admin")) {
    if (*admin == "off" || *admin == "false")
      g.admin = false;
    else
      parse_host_port(*admin, "admin", g.admin_host, g.admin_port);
  }
  if (auto workers = top.string("workers"); workers && *workers != "auto") {
    auto n = detail::parse_number(*workers, 1, 1024);
    if (!n)
      throw config_error(fmt::format(
          "workers: \"{}\" is not a worker count (write auto, or a number from 1 to 1024)",
          *workers));
    g.workers = *n;
  }
  if (auto to = top.string("access_log")) {
    // true and false keep their old meaning (stderr, off).
    if (*to == "false" || *to == "off") {
      g.access_log = false;
    } else if (*to == "true" || *to == "stderr" || *to == "stdout") {
      g.access_log_to = *to == "true" ? "stderr" : *to;
    } else if (to->starts_with("/") || to->starts_with("./")) {
      g.access_log_to = *to;
    } else {
      throw config_error(fmt::format(
          "access_log: \"{}\" is not stderr, stdout, off, or a file path (/... or ./...)", *to));
    }
  }
  if (auto format = top.string("access_log_format")) {
    if (*format != "json" && *format != "text")
      throw config_error(fmt::format("access_log_format: \"{}\" is not json or text", *format));
    g.access_log_json = *format == "json";
  }
  g.response_headers = top.get_bool("response_headers").value_or(true);
  // true (the default), false, or shared: with client keys, objects are then every client's.
  if (top.string("object_affinity") == "shared")
    g.object_affinity_shared = true;
  else
    g.object_affinity = top.get_bool("object_affinity").value_or(true);
  g.object_affinity_key = top.string("object_affinity_key").value_or("");
  g.object_affinity_key_ref = top.env_reference("object_affinity_key");
  if (!g.object_affinity_key.empty() && g.object_affinity_key.size() < 16)
    throw config_error("object_affinity_key: use at least 16 characters (a random secret)");
  if (top.has("prices")) {
    auto p = top.child("prices");
    for (const auto& model : p.keys()) {
      auto r = p.child(model);
      r.allow_only({"input", "cached_input", "output"});
      auto usd = [&](std::string_view key) -> std::optional<double> {
        auto text = r.string(key);
        if (!text) return std::nullopt;
        char* end = nullptr;
        double v = std::strtod(text->c_str(), &end);
        if (end == text->c_str() || *end != '\0' || !(v >= 0) || v > 1e6)
          throw config_error(fmt::format("{}: \"{}\" is not a price in USD per million tokens",
                                         r.child_path(key), *text));
        return v;
      };
      gateway::price price{.model = model};
      price.input = usd("input").value_or(0);
      price.output = usd("output").value_or(0);
      price.cached_input = usd("cached_input").value_or(price.input);
      g.prices.push_back(std::move(price));
    }
  }
  if (top.has("clients")) read_clients(top.child("clients"), g.clients);
  g.inline_clients = g.clients.size();
  if (auto file = top.string("clients_file")) {
    g.clients_file = *file;
    read_clients_file(g.clients_file, env, g.clients);
  }
  g.clients_configured = top.has("clients") || top.has("clients_file");
  check_clients(g.clients);
  if (top.has("redis")) read_redis(top.child("redis"), g.redis);
  if (top.has("metrics")) {
    auto m = top.child("metrics");
    m.allow_only({"usage", "max_models", "force_stream_usage"});
    g.metrics.usage = m.get_bool("usage").value_or(true);
    g.metrics.force_stream_usage = m.get_bool("force_stream_usage").value_or(true);
    if (auto v = m.string("max_models")) {
      auto n = detail::parse_number(*v, 0, 100000);
      if (!n) throw config_error("metrics.max_models: a number from 0 to 100000");
      g.metrics.max_models = *n;
    }
  }
  if (top.has("limits")) {
    auto l = top.child("limits");
    l.allow_only({"max_request_body", "max_request_headers", "max_buffered_request_bytes",
                  "max_connections"});
    if (auto v = l.get_size("max_request_body")) g.limits.max_request_body = *v;
    if (auto v = l.get_size("max_request_headers")) {
      if (*v < 1024 || *v > (16u << 20))
        throw config_error("limits.max_request_headers: must be between 1KiB and 16MiB");
      g.limits.max_request_headers = static_cast<std::uint32_t>(*v);
    }
    if (auto v = l.get_size("max_buffered_request_bytes")) {
      if (*v < (1u << 20))
        throw config_error("limits.max_buffered_request_bytes: must be at least 1MiB");
      g.limits.max_buffered_request_bytes = *v;
    }
    if (auto v = l.string("max_connections")) {
      auto n = detail::parse_number(*v, 1, 1u << 24);
      if (!n)
        throw config_error(
            fmt::format("limits.max_connections: \"{}\" is not a number from 1 to 16777216", *v));
      g.limits.max_connections = static_cast<std::uint32_t>(*n);
    }
  }
  if (top.has("timeouts")) read_timeouts(top.child("timeouts"), g.timeouts);
  if (top.has("circuit_breaker")) read_circuit_breaker(top, g.circuit_breaker);
  if (auto d = top.get_duration("drain_timeout")) g.drain_timeout = *d;

  auto backends = top.raw("backends");
  if (!backends || !backends.IsSequence() || backends.size() == 0)
    throw config_error(
        "backends: at least one backend is required, e.g.\n"
        "  backends:\n    - name: ollama\n      url: http://127.0.0.1:11434/v1");
  for (size_t i = 0; i < backends.size(); ++i) {
    reader r(backends[i], fmt::format("backends[{}]", i), env);
    auto b = read_backend(r, g);
    if (g.find_backend(b.name))
      throw config_error(
          fmt::format("{}: duplicate backend name \"{}\"", r.child_path("name"), b.name));
    g.backends.push_back(std::move(b));
  }
  read_routes(top, g);
  return g;
}
}  // namespace detail

gateway zero_config(const env_lookup& env) {
  gateway g;
  backend b;
  auto base_url = env("OPENAI_BASE_URL");
  if (base_url && !base_url->empty()) {
    b.name = "openai";
    b.url = *base_url;
    detail::validate_url(b.url, "OPENAI_BASE_URL");
    b.api_key = env("OPENAI_API_KEY").value_or("");
  } else {
    b.name = "ollama";
    b.url = "http://127.0.0.1:11434/v1";
  }
  b.use_timeouts(g.timeouts);
  g.routes.push_back(route::to(b.name));
  g.backends.push_back(std::move(b));
  return g;
}

void override_listen(gateway& g, const std::string& listen) {
  parse_listen(listen, "--listen", g);
}

void refuse_self_loop(const gateway& g) {
  for (const auto& b : g.backends) {
    auto url = boost::urls::parse_absolute_uri(b.url).value();  // validated already
    auto host = url.host_address();
    bool local = host == "127.0.0.1" || host == "localhost" || host == "::1" || host == "0.0.0.0";
    auto port = url.has_port() ? url.port_number() : (url.scheme() == "https" ? 443 : 80);
    if (local && port == g.listen_port)
      throw config_error(fmt::format(
          "backend \"{}\" ({}) is this gateway itself: OPENAI_BASE_URL is what clients use to "
          "reach the gateway; start the gateway with the provider's URL instead, e.g. "
          "OPENAI_BASE_URL=https://api.openai.com/v1",
          b.name, b.url));
  }
}

}  // namespace aigw::config
