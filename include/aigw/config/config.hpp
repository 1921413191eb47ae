#pragma once
// The gateway's configuration as plain structs: what the YAML says, validated, with
// defaults filled in and ${VAR} expanded. Compiled forms (route table, upstream targets)
// are built from this in their own modules.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aigw/core/units.hpp"

namespace aigw::config {

using namespace std::chrono_literals;

struct timeouts {
  duration connect = 5s;         // TCP connect, DNS and TLS handshake to a backend
  duration first_byte = 60s;     // from sending the request to the response head
  duration idle = 300s;          // between two reads of a response body (stream chunks)
  duration client_header = 30s;  // to receive a request head, and keep-alive idle time
};

struct limits {
  std::uint64_t max_request_body = 32ull << 20;
  std::uint32_t max_request_headers = 64u << 10;
  // Request bodies held at once by the whole process (being read, or waiting on a backend);
  // a request that would pass it gets 503. Declared lengths count in full when the head
  // arrives, chunked bodies as they grow.
  std::uint64_t max_buffered_request_bytes = 1ull << 30;
  // Client connections open at once in the whole process; more get 503 and a close.
  std::uint32_t max_connections = 16384;
};

// How a backend speaks: `openai` for OpenAI and every OpenAI-compatible server (Ollama, vLLM,
// llama.cpp, Groq, Together, Mistral, DeepSeek, OpenRouter, Gemini's OpenAI endpoint);
// `azure_openai` for Azure OpenAI deployments; `anthropic` for Anthropic's Messages API
// (translated both ways, providers/anthropic.hpp); `bedrock` for AWS Bedrock's Converse API
// (providers/bedrock.hpp), signed with SigV4.
enum class schema { openai, azure_openai, anthropic, bedrock };

// AWS credentials of a Bedrock backend (secret: never logged or printed), and where they came
// from: the config (each value's ${VAR} kept for --print-config), the environment
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) or a profile of the shared
// credentials file (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials).
struct aws_credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // temporary credentials; empty for none
  enum class origin { config, environment, file } from = origin::config;
  std::string profile;  // the file's profile, when named in the config
  // config: how each value was written ("${VAR}", else "" for a literal).
  std::string access_key_id_ref, secret_access_key_ref, session_token_ref;
};

// When a backend is taken out of rotation after failing (upstream/backend_health.hpp). A
// failure is a connect or TLS error, a 5xx, a response head late past first_byte, or a
// connection broken before its head; a 429 only backs off (Retry-After), it never opens.
struct circuit_breaker {
  bool enabled = true;
  unsigned consecutive_failures = 5;  // this many failures in a row open it
  // ...or this share of failures among the requests of one `window`, once there were at
  // least `min_requests` of them (0: off).
  double failure_rate = 0.5;
  unsigned min_requests = 20;
  duration window = std::chrono::seconds(10);
  duration cooldown = std::chrono::seconds(30);  // open this long; then one probe request decides
  bool operator==(const circuit_breaker&) const = default;
};

struct backend {
  std::string name;
  config::schema schema = schema::openai;
  // azure_openai: the api-version query parameter, and model name -> deployment name (a
  // model not listed is its own deployment name). bedrock: model name -> model id (`model_ids`).
  std::string api_version;
  std::vector<std::pair<std::string, std::string>> deployments;
  // anthropic: the max_tokens sent when the client gives none (Anthropic requires one);
  // bedrock: likewise, when set (0: none sent, the model's default).
  std::uint32_t max_tokens = 4096;
  // bedrock: the AWS region (the default URL's and the signature's), and the credentials.
  std::string region;
  aws_credentials aws;
  std::string url;      // base URL, as a client would put in OPENAI_BASE_URL
  std::string api_key;  // secret: empty for none; never logged or printed
  // How the config named the key, for --print-config: "${VAR}" when it came from the
  // environment; empty when it was written literally (then it prints as redacted).
  std::string api_key_ref;
  std::string ca_file;  // empty: the system trust store
  bool tls_insecure_skip_verify = false;
  // Effective per-backend timeouts (the global ones with this backend's overrides applied).
  duration connect_timeout{};
  duration first_byte_timeout{};
  duration idle_timeout{};
  struct circuit_breaker breaker;  // the gateway's `circuit_breaker`, with this backend's changes

  void use_timeouts(const timeouts& t) {
    connect_timeout = t.connect;
    first_byte_timeout = t.first_byte;
    idle_timeout = t.idle;
  }
};

// An AWS region as it goes into a request signature: "us-east-1" (lower-case letters, digits
// and dashes, at most 32).
inline bool is_aws_region(std::string_view region) {
  if (region.empty() || region.size() > 32) return false;
  for (char c : region)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

// The characters of a backend name: it appears in logs, errors and metrics labels as is.
inline bool is_backend_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == ':' || c == '/';
}

struct header_match {
  std::string name;    // lower-case
  std::string value;   // exact, or a regular expression when `regex`
  bool regex = false;  // RE2 syntax, matching the whole value
};

struct route_target {
  std::string backend;
  // The model name sent upstream instead of the client's (the body is rewritten). A `*` in
  // it stands for what the `*` of a glob model match matched, or the whole client model:
  // model "openai/*" with model_override "*" strips the prefix. Empty: send as is.
  std::string model_override;
  std::uint32_t weight = 1;  // share of the route's requests, among its level's targets
  // Lower first: a level is used only when every target of the levels before it is out of
  // rotation or has failed this request.
  std::uint32_t priority = 0;
};

// Which failures before the response head send a request to the route's next target
// (`retry` on a route). A failure after a byte reached the client never does.
struct retry_policy {
  // Tries in all, the first included; 0: each target of the route once. More tries than
  // targets go round again, to targets still in rotation, after `backoff`.
  unsigned attempts = 0;
  bool on_connect = true;  // DNS, TCP or TLS failure (the backend never saw the request)
  bool on_5xx = true;      // a 5xx head, or the connection broken before any head
  bool on_429 = true;      // a 429 head (the backend is also backed off)
  bool on_timeout = true;  // no head within the backend's first_byte
  // The pause before a try on a backend this request tried already (doubling each time).
  duration backoff = std::chrono::milliseconds(100);
};

// The header a request may name its model in when its body has none (Envoy AI Gateway's);
// a route's `model` match applies to it too.
inline constexpr std::string_view kModelHeader = "x-ai-eg-model";

struct route {
  std::optional<std::string> model;   // glob on the request's model (a regex if model_regex)
  bool model_regex = false;           // RE2 syntax, matching the whole model
  std::vector<header_match> headers;  // all must match
  // One target, or several sharing the requests by weight, by priority level.
  std::vector<route_target> targets;
  struct retry_policy retry;
  // A streamed chat completion that breaks mid-answer goes on at the next target, as one
  // answer to the client (proxy/resume_stage.hpp).
  bool resume = false;
  bool is_default() const { return !model && headers.empty(); }
  // A route without a match to one backend.
  static route to(std::string backend, std::string model_override = {}) {
    route r;
    r.targets.push_back({std::move(backend), std::move(model_override), 1});
    return r;
  }
};

// A caller of the gateway (`clients:`, or a `clients_file` that reload reads again): known by
// its key, which the config holds only as its SHA-256 (`aigw-proxy hash-key` prints it).
struct client {
  std::string name;                 // in the access log and the metrics (never the key)
  std::string key_sha256;           // 64 lower-case hex digits
  std::vector<std::string> models;  // globs it may use; empty: every model
  // Its budgets, shared by all workers (0: no limit). Tokens are counted as `tokens` says:
  // input, output, or both (total).
  struct budget {
    std::uint64_t requests_per_minute = 0;
    std::uint64_t tokens_per_minute = 0;
    std::uint64_t tokens_per_day = 0;
    enum class kind { total, input, output } tokens = kind::total;
    // Reserved for a request's output when it names no max_tokens / max_completion_tokens
    // (its input is estimated from its body: 4 bytes a token).
    std::uint64_t default_output = 1024;
    bool operator==(const budget&) const = default;
  } limits;
  std::vector<std::pair<std::string, std::string>> labels;  // metadata, for operators
};

// `redis:`: where clients' budgets are counted when replicas share them (proxy/shared_budget).
// Without it they are counted in memory, shared by the process's workers.
struct redis_settings {
  std::string host;  // empty: no Redis
  std::uint16_t port = 6379;
  unsigned database = 0;
  std::string username;
  std::string password;                               // secret
  std::string password_ref;                           // "${VAR}" when it came from the environment
  duration timeout = std::chrono::milliseconds(100);  // one command's answer
  // How long a worker sums its charges before it sends them (0: each at once).
  duration charge_interval = std::chrono::milliseconds(20);
  // When Redis cannot answer: admit on this replica's own counters (fail_open), or refuse
  // with a 503 (fail_closed).
  bool fail_open = true;
  std::string key_prefix = "aigw";
  bool enabled() const { return !host.empty(); }
  bool operator==(const redis_settings&) const = default;
};

struct gateway {
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 1975;
  // The admin listener (/metrics, /healthz, /readyz, /config), never on the data port.
  bool admin = true;
  std::string admin_host = "127.0.0.1";
  std::uint16_t admin_port = 1064;
  unsigned workers = 0;  // 0: one per core
  bool access_log = true;
  std::string access_log_to = "stderr";  // stderr, stdout, or a file path
  bool access_log_json = true;           // access_log_format: json (else text)
  bool response_headers = true;          // x-aigw-backend and x-aigw-route on relayed responses
  // Ids of stored objects name the backend that made them (proxy/object_ids.hpp).
  bool object_affinity = true;
  // `object_affinity: shared`: with client keys, a stored object is every client's (the
  // default scopes it to the client that made it: proxy/object_ids.hpp).
  bool object_affinity_shared = false;
  std::string object_affinity_key;      // secret: empty for a key derived from each backend
  std::string object_affinity_key_ref;  // "${VAR}" when it came from the environment
  // metrics: usage accounting on the responses that report tokens, and how many distinct
  // model names (beyond the config's) label the metrics before the rest become "other".
  struct metrics_settings {
    bool usage = true;
    unsigned max_models = 100;
    // Ask for usage on streams whose client did not (stream_options.include_usage), and take
    // it out again; off for a backend that refuses the field.
    bool force_stream_usage = true;
  } metrics;
  // prices: USD per million tokens, by model glob (the first that matches the model sent
  // upstream), for aigw_cost_usd_total. cached_input defaults to input.
  struct price {
    std::string model;  // glob
    double input = 0, cached_input = -1, output = 0;
  };
  std::vector<price> prices;
  struct limits limits;
  struct timeouts timeouts;
  struct circuit_breaker circuit_breaker;  // every backend's, unless it says otherwise
  // On SIGTERM or SIGINT: how long requests and streams in flight may take to finish.
  duration drain_timeout = std::chrono::seconds(30);
  std::vector<backend> backends;
  // Who may call (empty, with no clients_file: anyone, as without keys).
  std::vector<client> clients;      // the config's own first, then clients_file's
  std::size_t inline_clients = 0;   // how many of them the config itself lists
  std::string clients_file;         // where more clients are read from (again at each reload)
  bool clients_configured = false;  // `clients:` or `clients_file:` given (even empty: no one)
  bool requires_keys() const { return clients_configured; }
  redis_settings redis;
  // Ends with exactly one default route (added for a lone backend when none was written).
  std::vector<route> routes;

  const backend* find_backend(std::string_view name) const;
};

}  // namespace aigw::config
