// --print-config: any loaded config as the native YAML, so a user can migrate for good.
#include <yaml-cpp/yaml.h>

#include <fmt/format.h>

#include "aigw/config/loader.hpp"

namespace aigw::config {
namespace {

// A value as the native loader reads it back (${VAR} expanded): its "$" written "$$", so
// that text which only looks like a reference (a name from another dialect, where "${" means
// nothing) stays literal. References to secrets are written as references, not through this.
std::string literal(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '$') out += '$';
    out += c;
  }
  return out;
}

std::string duration_text(duration d) {
  auto ms = d.count();
  if (ms % 3'600'000 == 0) return fmt::format("{}h", ms / 3'600'000);
  if (ms % 60'000 == 0) return fmt::format("{}m", ms / 60'000);
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

std::string size_text(std::uint64_t n) {
  if (n % (1u << 20) == 0) return fmt::format("{}MiB", n >> 20);
  if (n % (1u << 10) == 0) return fmt::format("{}KiB", n >> 10);
  return fmt::format("{}", n);
}

// A Bedrock backend's settings; its credentials as they were named (a ${VAR}, a profile),
// never their values.
void emit_bedrock(YAML::Emitter& out, const backend& b) {
  out << YAML::Key << "schema" << YAML::Value << "bedrock" << YAML::Key << "region" << YAML::Value
      << literal(b.region);
  if (b.max_tokens) out << YAML::Key << "max_tokens" << YAML::Value << b.max_tokens;
  if (!b.deployments.empty()) {
    out << YAML::Key << "model_ids" << YAML::Value << YAML::BeginMap;
    for (const auto& [model, id] : b.deployments)
      out << YAML::Key << model << YAML::Value << literal(id);
    out << YAML::EndMap;
  }
  const auto& c = b.aws;
  auto named = [](const std::string& ref, const char* placeholder) {
    return ref.empty() ? std::string(placeholder) : ref;
  };
  if (c.from == aws_credentials::origin::config) {
    out << YAML::Key << "aws" << YAML::Value << YAML::BeginMap << YAML::Key << "access_key_id"
        << YAML::Value << named(c.access_key_id_ref, "${REDACTED_AWS_ACCESS_KEY_ID}") << YAML::Key
        << "secret_access_key" << YAML::Value
        << named(c.secret_access_key_ref, "${REDACTED_AWS_SECRET_ACCESS_KEY}");
    if (!c.session_token.empty())
      out << YAML::Key << "session_token" << YAML::Value
          << named(c.session_token_ref, "${REDACTED_AWS_SESSION_TOKEN}");
    out << YAML::EndMap;
  } else if (!c.profile.empty()) {
    out << YAML::Key << "aws" << YAML::Value << YAML::BeginMap << YAML::Key << "profile"
        << YAML::Value << literal(c.profile) << YAML::EndMap;
  }
}

// The config's own clients (their keys as the SHA-256 the config holds), and the keys file
// by its name (its clients stay in it).
void emit_clients(YAML::Emitter& out, const gateway& g, bool hide_key_hashes) {
  if (g.inline_clients > 0) {
    out << YAML::Key << "clients" << YAML::Value << YAML::BeginSeq;
    for (std::size_t i = 0; i < g.inline_clients; ++i) {
      const auto& c = g.clients[i];
      out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << literal(c.name) << YAML::Key
          << "key_sha256" << YAML::Value
          << (hide_key_hashes ? std::string("${REDACTED_KEY_SHA256}") : c.key_sha256);
      if (!c.models.empty()) {
        out << YAML::Key << "models" << YAML::Value << YAML::Flow << YAML::BeginSeq;
        for (const auto& m : c.models) out << m;
        out << YAML::EndSeq;
      }
      const auto& l = c.limits;
      out << YAML::Key << "limits" << YAML::Value << YAML::Flow << YAML::BeginMap;
      if (l.requests_per_minute)
        out << YAML::Key << "requests_per_minute" << YAML::Value << l.requests_per_minute;
      if (l.tokens_per_minute)
        out << YAML::Key << "tokens_per_minute" << YAML::Value << l.tokens_per_minute;
      if (l.tokens_per_day) out << YAML::Key << "tokens_per_day" << YAML::Value << l.tokens_per_day;
      using kind = client::budget::kind;
      out << YAML::Key << "tokens" << YAML::Value
          << (l.tokens == kind::input    ? "input"
              : l.tokens == kind::output ? "output"
                                         : "total")
          << YAML::Key << "default_output" << YAML::Value << l.default_output << YAML::EndMap;
      if (!c.labels.empty()) {
        out << YAML::Key << "labels" << YAML::Value << YAML::Flow << YAML::BeginMap;
        for (const auto& [k, v] : c.labels) out << YAML::Key << k << YAML::Value << literal(v);
        out << YAML::EndMap;
      }
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  if (!g.clients_file.empty())
    out << YAML::Key << "clients_file" << YAML::Value << literal(g.clients_file);
}

void emit_breaker(YAML::Emitter& out, const circuit_breaker& b) {
  out << YAML::Key << "circuit_breaker" << YAML::Value;
  if (!b.enabled) {
    out << "off";
    return;
  }
  out << YAML::Flow << YAML::BeginMap << YAML::Key << "consecutive_failures" << YAML::Value
      << b.consecutive_failures << YAML::Key << "failure_rate" << YAML::Value << b.failure_rate
      << YAML::Key << "min_requests" << YAML::Value << b.min_requests << YAML::Key << "window"
      << YAML::Value << duration_text(b.window) << YAML::Key << "cooldown" << YAML::Value
      << duration_text(b.cooldown) << YAML::EndMap;
}

void emit_retry(YAML::Emitter& out, const retry_policy& r) {
  retry_policy defaults;
  if (r.attempts == defaults.attempts && r.on_connect && r.on_5xx && r.on_429 && r.on_timeout &&
      r.backoff == defaults.backoff)
    return;
  out << YAML::Key << "retry" << YAML::Value;
  if (r.attempts == 1) {
    out << "off";
    return;
  }
  out << YAML::Flow << YAML::BeginMap;
  if (r.attempts) out << YAML::Key << "attempts" << YAML::Value << r.attempts;
  out << YAML::Key << "on" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  if (r.on_connect) out << "connect";
  if (r.on_5xx) out << "5xx";
  if (r.on_429) out << "429";
  if (r.on_timeout) out << "timeout";
  out << YAML::EndSeq << YAML::Key << "backoff" << YAML::Value << duration_text(r.backoff)
      << YAML::EndMap;
}

}  // namespace

std::string print_native(const gateway& g, bool hide_key_hashes) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "listen" << YAML::Value
      << literal(g.listen_host.find(':') != std::string::npos
                     ? fmt::format("[{}]:{}", g.listen_host, g.listen_port)
                     : fmt::format("{}:{}", g.listen_host, g.listen_port));
  out << YAML::Key << "admin" << YAML::Value
      << literal(!g.admin ? std::string("off")
                 : g.admin_host.find(':') != std::string::npos
                     ? fmt::format("[{}]:{}", g.admin_host, g.admin_port)
                     : fmt::format("{}:{}", g.admin_host, g.admin_port));
  out << YAML::Key << "workers" << YAML::Value
      << (g.workers ? std::to_string(g.workers) : std::string("auto"));
  out << YAML::Key << "access_log" << YAML::Value
      << (g.access_log ? literal(g.access_log_to) : "off");
  out << YAML::Key << "access_log_format" << YAML::Value << (g.access_log_json ? "json" : "text");
  out << YAML::Key << "response_headers" << YAML::Value << g.response_headers;
  if (!g.prices.empty()) {
    out << YAML::Key << "prices" << YAML::Value << YAML::BeginMap;
    for (const auto& p : g.prices)
      out << YAML::Key << p.model << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key
          << "input" << YAML::Value << p.input << YAML::Key << "cached_input" << YAML::Value
          << p.cached_input << YAML::Key << "output" << YAML::Value << p.output << YAML::EndMap;
    out << YAML::EndMap;
  }
  out << YAML::Key << "object_affinity" << YAML::Value;
  if (g.object_affinity_shared)
    out << "shared";
  else
    out << g.object_affinity;
  out << YAML::Key << "metrics" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key
      << "usage" << YAML::Value << g.metrics.usage << YAML::Key << "max_models" << YAML::Value
      << g.metrics.max_models << YAML::Key << "force_stream_usage" << YAML::Value
      << g.metrics.force_stream_usage << YAML::EndMap;
  if (!g.object_affinity_key.empty())  // never the key itself
    out << YAML::Key << "object_affinity_key" << YAML::Value
        << (g.object_affinity_key_ref.empty() ? std::string("${REDACTED_OBJECT_AFFINITY_KEY}")
                                              : g.object_affinity_key_ref);
  out << YAML::Key << "limits" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key
      << "max_request_body" << YAML::Value << size_text(g.limits.max_request_body) << YAML::Key
      << "max_request_headers" << YAML::Value << size_text(g.limits.max_request_headers)
      << YAML::Key << "max_buffered_request_bytes" << YAML::Value
      << size_text(g.limits.max_buffered_request_bytes) << YAML::Key << "max_connections"
      << YAML::Value << g.limits.max_connections << YAML::EndMap;
  const auto& t = g.timeouts;
  out << YAML::Key << "timeouts" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key
      << "connect" << YAML::Value << duration_text(t.connect) << YAML::Key << "first_byte"
      << YAML::Value << duration_text(t.first_byte) << YAML::Key << "idle" << YAML::Value
      << duration_text(t.idle) << YAML::Key << "client_header" << YAML::Value
      << duration_text(t.client_header) << YAML::EndMap;
  emit_breaker(out, g.circuit_breaker);
  out << YAML::Key << "drain_timeout" << YAML::Value << duration_text(g.drain_timeout);

  emit_clients(out, g, hide_key_hashes);
  if (g.redis.enabled()) {
    const auto& r = g.redis;
    out << YAML::Key << "redis" << YAML::Value << YAML::BeginMap << YAML::Key << "url"
        << YAML::Value
        << literal(fmt::format(
               "redis://{}:{}/{}",
               r.host.find(':') == std::string::npos ? r.host : fmt::format("[{}]", r.host), r.port,
               r.database));
    if (!r.username.empty()) out << YAML::Key << "username" << YAML::Value << literal(r.username);
    if (!r.password.empty())  // never the password itself
      out << YAML::Key << "password" << YAML::Value
          << (r.password_ref.empty() ? std::string("${REDACTED_REDIS_PASSWORD}") : r.password_ref);
    out << YAML::Key << "timeout" << YAML::Value << duration_text(r.timeout) << YAML::Key
        << "charge_interval" << YAML::Value
        << (r.charge_interval.count() == 0 ? std::string("0ms") : duration_text(r.charge_interval))
        << YAML::Key << "on_redis_error" << YAML::Value
        << (r.fail_open ? "fail_open" : "fail_closed") << YAML::Key << "key_prefix" << YAML::Value
        << literal(r.key_prefix) << YAML::EndMap;
  }
  out << YAML::Key << "backends" << YAML::Value << YAML::BeginSeq;
  for (const auto& b : g.backends) {
    out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << literal(b.name) << YAML::Key
        << "url" << YAML::Value << literal(b.url);
    if (b.schema == schema::azure_openai) {
      out << YAML::Key << "schema" << YAML::Value << "azure-openai" << YAML::Key << "api_version"
          << YAML::Value << literal(b.api_version);
      if (!b.deployments.empty()) {
        out << YAML::Key << "deployments" << YAML::Value << YAML::BeginMap;
        for (const auto& [model, deployment] : b.deployments)
          out << YAML::Key << model << YAML::Value << literal(deployment);
        out << YAML::EndMap;
      }
    }
    if (b.schema == schema::anthropic)
      out << YAML::Key << "schema" << YAML::Value << "anthropic" << YAML::Key << "max_tokens"
          << YAML::Value << b.max_tokens;
    if (b.schema == schema::bedrock) emit_bedrock(out, b);
    if (!b.api_key.empty())  // never the key itself
      out << YAML::Key << "api_key" << YAML::Value
          << (b.api_key_ref.empty() ? std::string("${REDACTED_API_KEY}") : b.api_key_ref);
    if (!b.ca_file.empty()) out << YAML::Key << "ca_file" << YAML::Value << literal(b.ca_file);
    if (b.tls_insecure_skip_verify)
      out << YAML::Key << "tls_insecure_skip_verify" << YAML::Value << true;
    if (b.connect_timeout != t.connect || b.first_byte_timeout != t.first_byte ||
        b.idle_timeout != t.idle) {
      out << YAML::Key << "timeouts" << YAML::Value << YAML::Flow << YAML::BeginMap;
      if (b.connect_timeout != t.connect)
        out << YAML::Key << "connect" << YAML::Value << duration_text(b.connect_timeout);
      if (b.first_byte_timeout != t.first_byte)
        out << YAML::Key << "first_byte" << YAML::Value << duration_text(b.first_byte_timeout);
      if (b.idle_timeout != t.idle)
        out << YAML::Key << "idle" << YAML::Value << duration_text(b.idle_timeout);
      out << YAML::EndMap;
    }
    if (b.breaker != g.circuit_breaker) emit_breaker(out, b.breaker);
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;

  out << YAML::Key << "routes" << YAML::Value << YAML::BeginSeq;
  for (const auto& r : g.routes) {
    out << YAML::BeginMap;
    if (!r.is_default()) {
      out << YAML::Key << "match" << YAML::Value << YAML::Flow << YAML::BeginMap;
      auto pattern = [&](const std::string& value, bool regex) {
        if (regex)
          out << YAML::BeginMap << YAML::Key << "regex" << YAML::Value << literal(value)
              << YAML::EndMap;
        else
          out << literal(value);
      };
      if (r.model) {
        out << YAML::Key << "model" << YAML::Value;
        pattern(*r.model, r.model_regex);
      }
      if (!r.headers.empty()) {
        out << YAML::Key << "headers" << YAML::Value << YAML::BeginMap;
        for (const auto& h : r.headers) {
          out << YAML::Key << h.name << YAML::Value;
          pattern(h.value, h.regex);
        }
        out << YAML::EndMap;
      }
      out << YAML::EndMap;
    }
    if (r.targets.size() == 1 && r.targets[0].priority == 0) {
      out << YAML::Key << "backend" << YAML::Value << literal(r.targets[0].backend);
      if (!r.targets[0].model_override.empty())
        out << YAML::Key << "model_override" << YAML::Value << literal(r.targets[0].model_override);
    } else {
      out << YAML::Key << "backends" << YAML::Value << YAML::BeginSeq;
      for (const auto& t : r.targets) {
        out << YAML::Flow << YAML::BeginMap << YAML::Key << "backend" << YAML::Value
            << literal(t.backend) << YAML::Key << "weight" << YAML::Value << t.weight;
        if (t.priority) out << YAML::Key << "priority" << YAML::Value << t.priority;
        if (!t.model_override.empty())
          out << YAML::Key << "model_override" << YAML::Value << literal(t.model_override);
        out << YAML::EndMap;
      }
      out << YAML::EndSeq;
    }
    emit_retry(out, r.retry);
    if (r.resume) out << YAML::Key << "resume" << YAML::Value << true;
    out << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace aigw::config
