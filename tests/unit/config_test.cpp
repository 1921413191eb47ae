#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "aigw/config/loader.hpp"
#include "aigw/proxy/snapshot.hpp"

using namespace std::chrono_literals;
using aigw::config::config_error;
using aigw::config::load_from_string;

namespace {

const std::map<std::string, std::string> kEnv = {{"OPENAI_API_KEY", "sk-test"}, {"EMPTY", ""}};

std::optional<std::string> fake_env(std::string_view name) {
  auto it = kEnv.find(std::string(name));
  if (it == kEnv.end()) return std::nullopt;
  return it->second;
}

aigw::config::gateway load(std::string_view yaml) {
  return load_from_string(yaml, fake_env);
}

// The error message of loading `yaml`, or "" when it loads.
std::string error_of(std::string_view yaml) {
  try {
    load(yaml);
  } catch (const config_error& e) {
    return e.what();
  }
  return "";
}

constexpr std::string_view kOne =
    "backends: [{ name: ollama, url: 'http://127.0.0.1:11434/v1' }]\n";

}  // namespace

TEST_CASE("the issue's full example loads with its defaults and overrides") {
  auto g = load(R"(
listen: 127.0.0.1:1975
workers: auto
limits: { max_request_body: 32MiB, max_request_headers: 64KiB }
timeouts: { connect: 5s, first_byte: 60s, idle: 300s, client_header: 30s }
backends:
  - name: ollama
    url: http://127.0.0.1:11434/v1
  - name: openai
    url: https://api.openai.com/v1
    api_key: ${OPENAI_API_KEY}
    timeouts: { first_byte: 120s }
routes:
  - match: { headers: { aigw-backend-selector: openai } }
    backend: openai
  - match: { model: "gpt-*" }
    backend: openai
  - backend: ollama
)");
  CHECK(g.listen_host == "127.0.0.1");
  CHECK(g.listen_port == 1975);
  CHECK(g.workers == 0);
  CHECK(g.limits.max_request_body == 32u << 20);
  CHECK(g.limits.max_request_headers == 64u << 10);
  REQUIRE(g.backends.size() == 2);
  CHECK(g.backends[1].api_key == "sk-test");
  CHECK(g.backends[1].first_byte_timeout == 120s);
  CHECK(g.backends[1].connect_timeout == 5s);
  CHECK(g.backends[0].first_byte_timeout == 60s);
  REQUIRE(g.routes.size() == 3);
  CHECK(g.routes[0].headers[0].name == "aigw-backend-selector");
  CHECK(g.routes[1].model == "gpt-*");
  CHECK(g.routes[2].is_default());
}

TEST_CASE("defaults without optional sections") {
  auto g = load(kOne);
  CHECK(g.listen_host == "127.0.0.1");
  CHECK(g.listen_port == 1975);
  CHECK(g.timeouts.first_byte == 60s);
  CHECK(g.limits.max_request_body == 32u << 20);
  CHECK(g.limits.max_buffered_request_bytes == 1ull << 30);
  CHECK(g.limits.max_connections == 16384);
  CHECK(g.access_log);
}

TEST_CASE("the process-wide limits: read, bounded, named in errors") {
  auto g = load(std::string(kOne) +
                "limits: { max_buffered_request_bytes: 256MiB, max_connections: 500 }\n");
  CHECK(g.limits.max_buffered_request_bytes == 256u << 20);
  CHECK(g.limits.max_connections == 500);
  CHECK(error_of(std::string(kOne) + "limits: { max_buffered_request_bytes: 1KiB }\n")
            .find("limits.max_buffered_request_bytes:") == 0);
  CHECK(error_of(std::string(kOne) + "limits: { max_connections: 0 }\n")
            .find("limits.max_connections:") == 0);
  CHECK(error_of(std::string(kOne) + "limits: { max_connections: lots }\n")
            .find("limits.max_connections:") == 0);
}

TEST_CASE("environment expansion") {
  using aigw::config::expand_env;
  CHECK(expand_env("${OPENAI_API_KEY}", fake_env, "p") == "sk-test");
  CHECK(expand_env("Bearer ${OPENAI_API_KEY}!", fake_env, "p") == "Bearer sk-test!");
  CHECK(expand_env("${MISSING:-fallback}", fake_env, "p") == "fallback");
  CHECK(expand_env("${EMPTY:-fallback}", fake_env, "p") == "fallback");
  CHECK(expand_env("${OPENAI_API_KEY:-x}", fake_env, "p") == "sk-test");
  CHECK(expand_env("$$5 and $x", fake_env, "p") == "$5 and $x");
  CHECK_THROWS_WITH_AS(expand_env("${MISSING}", fake_env, "backends[0].api_key"),
                       doctest::Contains("backends[0].api_key: environment variable MISSING"),
                       config_error);
  CHECK_THROWS_AS(expand_env("${OPEN", fake_env, "p"), config_error);
  CHECK_THROWS_AS(expand_env("${A B}", fake_env, "p"), config_error);
}

TEST_CASE("every error names the YAML path") {
  CHECK(error_of("backendz: []\n").find("backendz: unknown key") == 0);
  CHECK(error_of("backends: []\n").find("backends: at least one backend") == 0);
  CHECK(error_of("backends: [{ name: a }]\n").find("backends[0].url: required") == 0);
  CHECK(error_of("backends: [{ name: a, url: 'ftp://x' }]\n").find("backends[0].url:") == 0);
  CHECK(error_of("backends: [{ name: a, url: 'not a url' }]\n").find("backends[0].url:") == 0);
  CHECK(error_of("backends: [{ name: a, url: 'http://u:p@x/v1' }]\n")
            .find("backends[0].url: put credentials in api_key") == 0);
  CHECK(error_of("backends: [{ name: a, url: 'http://x', colour: red }]\n")
            .find("backends[0].colour: unknown key") == 0);
  CHECK(error_of("backends: [{ name: a, url: 'http://x' }, { name: a, url: 'http://y' }]\n")
            .find("backends[1].name: duplicate backend name") == 0);
  CHECK(error_of("backends: [{ name: a, url: 'http://x', api_key: '${NOPE}' }]\n")
            .find("backends[0].api_key: environment variable NOPE is not set") == 0);
  CHECK(error_of("backends: [{ name: a, url: 'http://x', timeouts: { first_byte: 5 parsecs } }]\n")
            .find("backends[0].timeouts.first_byte: \"5 parsecs\" is not a duration") == 0);
  CHECK(error_of("backends: [{ name: a, url: 'http://x', timeouts: { client_header: 1s } }]\n")
            .find("backends[0].timeouts.client_header: unknown key") == 0);
  CHECK(error_of(std::string(kOne) + "listen: localhost\n").find("listen:") == 0);
  CHECK(error_of(std::string(kOne) + "listen: 1.2.3.4:99999\n").find("listen:") == 0);
  CHECK(error_of(std::string(kOne) + "workers: many\n").find("workers:") == 0);
  CHECK(error_of(std::string(kOne) + "limits: { max_request_body: 1 lot }\n")
            .find("limits.max_request_body:") == 0);
  CHECK(error_of(std::string(kOne) + "access_log: maybe\n").find("access_log:") == 0);
  CHECK(error_of("backends: [{ name: a, url: 'http://x' }]\nroutes: [{ backend: ollma }]\n")
            .find("routes[0].backend: unknown backend \"ollma\" (known: a)") == 0);
  CHECK(error_of("backends: [{ name: a, url: 'http://x' }]\nroutes: [{ match: {}, backend: a }]\n")
            .find("routes[0].match: is empty") == 0);
  CHECK(error_of("backends: [{ name: a, url: 'http://x' }]\n"
                 "routes: [{ match: { modle: x }, backend: a }]\n")
            .find("routes[0].match.modle: unknown key") == 0);
  CHECK(error_of("backends: [{ name: a, url: 'http://x' }]\nroutes: {}\n").find("routes:") == 0);
  CHECK(error_of("backends: [\n").find("line ") == 0);
}

TEST_CASE("the default route: required with several backends, and last") {
  constexpr std::string_view two =
      "backends: [{ name: a, url: 'http://x' }, { name: b, url: 'http://y' }]\n";
  auto no_default = error_of(std::string(two) + "routes: [{ match: { model: m }, backend: a }]\n");
  CHECK(no_default.find("routes: no default route") == 0);
  CHECK(no_default.find("- backend: a") != std::string::npos);  // says how to add one
  CHECK(error_of(two).find("routes: no default route") == 0);
  CHECK(
      error_of(std::string(two) + "routes: [{ backend: a }, { match: { model: m }, backend: b }]\n")
          .find("routes[0]: a route without a match is the default and must be the last") == 0);
  // A lone backend becomes the default; with routes that all have matches too.
  auto g = load(
      "backends: [{ name: a, url: 'http://x' }]\nroutes: [{ match: { model: m }, backend: a }]\n");
  REQUIRE(g.routes.size() == 2);
  CHECK(g.routes[1].is_default());
}

TEST_CASE("a bad ca_file fails when the config is compiled") {
  auto g = load("backends: [{ name: a, url: 'https://x', ca_file: /nonexistent/ca.pem }]\n");
  CHECK_THROWS_WITH_AS(aigw::proxy::snapshot::compile(g),
                       doctest::Contains("backends[0].ca_file: cannot load"), config_error);
}

TEST_CASE("upstream targets: host header, base path, credentials") {
  auto g = load(R"(
backends:
  - { name: a, url: "http://127.0.0.1:11434/v1/" }
  - { name: b, url: "https://api.example.com/openai/v1", api_key: "${OPENAI_API_KEY}" }
  - { name: c, url: "http://[::1]:8080" }
routes: [{ backend: a }]
)");
  auto s = aigw::proxy::snapshot::compile(g);
  CHECK(s->targets[0].host_header == "127.0.0.1:11434");
  CHECK(s->targets[0].base_path == "/v1");
  CHECK(s->targets[0].credential_name.empty());
  CHECK_FALSE(s->targets[0].tls);
  CHECK(s->targets[1].host_header == "api.example.com");
  CHECK(s->targets[1].port == "443");
  CHECK(s->targets[1].base_path == "/openai/v1");
  CHECK(s->targets[1].credential_name == "Authorization");
  CHECK(s->targets[1].credential_value == "Bearer sk-test");
  CHECK(s->targets[1].tls);
  CHECK(s->targets[2].host == "::1");
  CHECK(s->targets[2].host_header == "[::1]:8080");
  CHECK(s->targets[2].base_path.empty());
}

TEST_CASE("every example config in configs/ loads") {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(AIGW_CONFIGS_DIR)) {
    if (entry.path().extension() != ".yaml") continue;
    CAPTURE(entry.path().string());
    // Example configs may reference the environment; give every variable a value.
    auto loaded = aigw::config::load_config_file(
        entry.path().string(), aigw::config::config_format::automatic, [](std::string_view name) {
          return std::optional<std::string>(name.ends_with("_URL") ? "http://127.0.0.1:9/v1"
                                                                   : "sk-example");
        });
    CHECK_NOTHROW(aigw::proxy::snapshot::compile(loaded.config));
    ++count;
  }
  CHECK(count > 0);
}

TEST_CASE("durations must be positive and bounded; odd YAML shapes are errors, not crashes") {
  CHECK(error_of("backends: [{ name: a, url: 'http://x', timeouts: { first_byte: 0ms } }]\n")
            .find("backends[0].timeouts.first_byte: \"0ms\" must be more than 0") == 0);
  CHECK(error_of("timeouts: { idle: 9999h }\n" + std::string(kOne)).find("timeouts.idle:") == 0);
  CHECK_FALSE(error_of("? [a, b]\n: c\n").empty());
  CHECK_FALSE(error_of("backends: [{ [x]: 1 }]\n").empty());
  auto secret = error_of("backends: [{ name: a, url: 'http://x', api_key: '${sk-live-123}' }]\n");
  CHECK(secret.find("backends[0].api_key") == 0);
  CHECK(secret.find("sk-live-123") == std::string::npos);
}

TEST_CASE("prices: USD per million tokens by model glob; cached input defaults to input") {
  auto g = aigw::config::load_from_string(std::string(kOne) +
                                          "prices:\n  \"gpt-4o*\": { input: 2.5, output: 10 }\n"
                                          "  \"*\": { input: 1, cached_input: 0.1, output: 2 }\n");
  REQUIRE(g.prices.size() == 2);
  CHECK(g.prices[0].model == "gpt-4o*");
  CHECK(g.prices[0].cached_input == 2.5);
  CHECK(g.prices[1].cached_input == 0.1);
  CHECK(error_of(std::string(kOne) + "prices:\n  m: { input: cheap }\n").find("prices.m.input") ==
        0);
  CHECK(error_of(std::string(kOne) + "prices:\n  m: { inputs: 1 }\n").find("prices.m") == 0);
}

TEST_CASE("admin, access log and metrics settings") {
  auto g = aigw::config::load_from_string(
      std::string(kOne) +
      "admin: off\naccess_log: /var/log/aigw.log\naccess_log_format: text\n"
      "metrics: { usage: false, max_models: 7, force_stream_usage: false }\n"
      "response_headers: false\n");
  CHECK_FALSE(g.admin);
  CHECK(g.access_log_to == "/var/log/aigw.log");
  CHECK_FALSE(g.access_log_json);
  CHECK_FALSE(g.metrics.usage);
  CHECK(g.metrics.max_models == 7);
  CHECK_FALSE(g.metrics.force_stream_usage);
  CHECK_FALSE(g.response_headers);
  auto d = aigw::config::load_from_string(std::string(kOne) +
                                          "admin: 0.0.0.0:9100\naccess_log: false\n");
  CHECK(d.admin_host == "0.0.0.0");
  CHECK(d.admin_port == 9100);
  CHECK_FALSE(d.access_log);
  CHECK(error_of(std::string(kOne) + "access_log_format: xml\n").find("access_log_format") == 0);
}

TEST_CASE("translated schemas: anthropic and bedrock settings, checked and printed back") {
  auto g = load(
      "backends:\n"
      "  - { name: claude, url: 'https://api.anthropic.com', schema: anthropic, "
      "api_key: '${OPENAI_API_KEY}', max_tokens: 2000 }\n"
      "  - name: aws\n"
      "    schema: bedrock\n"
      "    region: eu-central-1\n"
      "    model_ids: { sonnet: 'anthropic.claude-3-5-sonnet-20240620-v1:0' }\n"
      "    aws: { access_key_id: AKIDLITERAL, secret_access_key: '${OPENAI_API_KEY}' }\n"
      "routes: [{ backend: claude }]\n");
  REQUIRE(g.backends.size() == 2);
  CHECK(g.backends[0].schema == aigw::config::schema::anthropic);
  CHECK(g.backends[0].max_tokens == 2000);
  const auto& aws = g.backends[1];
  CHECK(aws.schema == aigw::config::schema::bedrock);
  CHECK(aws.url == "https://bedrock-runtime.eu-central-1.amazonaws.com");
  CHECK(aws.max_tokens == 0);
  CHECK(aws.aws.access_key_id == "AKIDLITERAL");
  CHECK(aws.aws.secret_access_key == "sk-test");
  REQUIRE(aws.deployments.size() == 1);
  auto printed = aigw::config::print_native(g);
  CHECK(printed.find("schema: bedrock") != std::string::npos);
  CHECK(printed.find("region: eu-central-1") != std::string::npos);
  CHECK(printed.find("AKIDLITERAL") == std::string::npos);  // a literal key: redacted
  CHECK(printed.find("${REDACTED_AWS_ACCESS_KEY_ID}") != std::string::npos);
  CHECK(printed.find("secret_access_key: ${OPENAI_API_KEY}") != std::string::npos);
  CHECK(printed.find("sk-test") == std::string::npos);

  CHECK(error_of("backends: [{ name: a, schema: bedrock, region: 'us east' }]\n")
            .find("is not an AWS region") != std::string::npos);
  CHECK(error_of("backends: [{ name: a, schema: bedrock }]\n").find("region") != std::string::npos);
  CHECK(error_of("backends: [{ name: a, url: 'http://x/v1', region: us-east-1 }]\n")
            .find("region needs schema: bedrock") != std::string::npos);
  CHECK(error_of("backends: [{ name: a, url: 'http://x/v1', max_tokens: 5 }]\n")
            .find("max_tokens needs schema") != std::string::npos);
  CHECK(error_of("backends: [{ name: a, schema: bedrock, region: us-east-1, aws: { profile: p, "
                 "access_key_id: A, secret_access_key: B } }]\n")
            .find("keys or a profile") != std::string::npos);
}

TEST_CASE("redis: the URL, credentials and policy; printed without the password") {
  auto g = load(
      "redis:\n"
      "  url: redis://10.0.0.7:6380/3\n"
      "  username: gateway\n"
      "  password: '${OPENAI_API_KEY}'\n"
      "  timeout: 40ms\n"
      "  charge_interval: 0\n"
      "  on_redis_error: fail_closed\n"
      "  key_prefix: prod:aigw\n"
      "backends: [{ name: a, url: 'http://127.0.0.1:1/v1' }]\n");
  const auto& r = g.redis;
  CHECK(r.enabled());
  CHECK(r.host == "10.0.0.7");
  CHECK(r.port == 6380);
  CHECK(r.database == 3);
  CHECK(r.username == "gateway");
  CHECK(r.password == "sk-test");
  CHECK(r.timeout == std::chrono::milliseconds(40));
  CHECK(r.charge_interval.count() == 0);
  CHECK_FALSE(r.fail_open);
  CHECK(r.key_prefix == "prod:aigw");
  auto printed = aigw::config::print_native(g);
  CHECK(printed.find("url: redis://10.0.0.7:6380/3") != std::string::npos);
  CHECK(printed.find("password: ${OPENAI_API_KEY}") != std::string::npos);
  CHECK(printed.find("sk-test") == std::string::npos);
  CHECK(printed.find("charge_interval: 0ms") != std::string::npos);
  CHECK(load(printed).redis == r);  // what is printed loads back as it was

  auto defaults = load(
      "redis: { url: 'redis://cache' }\nbackends: [{ name: a, url: 'http://127.0.0.1:1/v1' }]\n");
  CHECK(defaults.redis.host == "cache");
  CHECK(defaults.redis.port == 6379);
  CHECK(defaults.redis.fail_open);
  CHECK(defaults.redis.charge_interval == std::chrono::milliseconds(20));
  CHECK_FALSE(load("backends: [{ name: a, url: 'http://127.0.0.1:1/v1' }]\n").redis.enabled());

  auto literal = load(
      "redis: { url: 'redis://cache', password: hunter2-secret }\nbackends: [{ name: a, url: "
      "'http://127.0.0.1:1/v1' }]\n");
  CHECK(aigw::config::print_native(literal).find("hunter2") == std::string::npos);
  // A default after ":-" may be the secret itself: only the variable is named.
  auto fallback = load(
      "redis: { url: 'redis://cache', password: '${NOT_SET:-hunter3-secret}' }\n"
      "backends: [{ name: a, url: 'http://127.0.0.1:1/v1', api_key: '${NOT_SET:-sk-default}' }]\n");
  CHECK(fallback.redis.password == "hunter3-secret");
  auto printed_fallback = aigw::config::print_native(fallback);
  CHECK(printed_fallback.find("hunter3") == std::string::npos);
  CHECK(printed_fallback.find("sk-default") == std::string::npos);
  CHECK(printed_fallback.find("password: ${NOT_SET}") != std::string::npos);

  for (auto [bad, message] : std::initializer_list<std::pair<const char*, const char*>>{
           {"{ url: 'rediss://cache:6379' }", "TLS"},
           {"{ url: 'redis://u:p@cache:6379' }", "not in the URL"},
           {"{ url: 'redis://:6379' }", "needs a host"},
           {"{ url: 'redis://cache:99999' }", "not a valid port"},
           {"{ url: 'redis://cache/x' }", "not a database number"},
           {"{ url: 'redis://cache', username: u }", "needs a password"},
           {"{ url: 'redis://cache', timeout: 20s }", "between 1ms and 10s"},
           {"{ url: 'redis://cache', charge_interval: 5s }", "at most 1s"},
           {"{ url: 'redis://cache', on_redis_error: ignore }", "fail_open or fail_closed"},
           {"{ url: 'redis://cache', key_prefix: '{x}' }", "key_prefix"},
           {"{ url: 'redis://cache', pool: 3 }", "pool"},
       }) {
    auto error = error_of(std::string("redis: ") + bad +
                          "\nbackends: [{ name: a, url: 'http://127.0.0.1:1/v1' }]\n");
    CHECK_MESSAGE(error.find(message) != std::string::npos, bad, " -> ", error);
  }
}

TEST_CASE("LiteLLM: os.environ/ names a variable, so the printed ${VAR} loads again") {
  // Found by the config fuzz target (tests/fuzz/corpus/config/crash-litellm-environ-name).
  auto load_litellm = [](std::string_view key) {
    return aigw::config::load_config(
        std::string("model_list:\n  - model_name: \"*\"\n    litellm_params:\n"
                    "      model: openai/gpt-4o\n      api_key: ") +
            std::string(key) + "\n",
        aigw::config::config_format::litellm, fake_env);
  };
  auto ok = load_litellm("os.environ/OPENAI_API_KEY");
  auto printed = aigw::config::print_native(ok.config);
  CHECK(printed.find("api_key: ${OPENAI_API_KEY}") != std::string::npos);
  CHECK(load(printed).backends.size() == ok.config.backends.size());
  CHECK_THROWS_WITH_AS(load_litellm("os.environ/OPENAI_0.1:1975"),
                       doctest::Contains("os.environ/ must name a variable"), config_error);
}

TEST_CASE(
    "--print-config writes a literal \"$\" as \"$$\", so text from another dialect loads back as "
    "it was") {
  // Found by the config fuzz target (tests/fuzz/corpus/config/crash-archgw-dollar-brace): an
  // archgw provider named with "${" became a route's header value and backend that the native
  // loader then read as a ${VAR} reference.
  auto archgw = aigw::config::load_config(
      "llm_providers:\n"
      "  - name: 'odd ${name} $HOME $$'\n"
      "    provider_interface: openai\n"
      "    endpoint: 127.0.0.1:11434\n"
      "    model: qwen3:0.6b\n"
      "    default: true\n",
      aigw::config::config_format::archgw, fake_env);
  auto printed = aigw::config::print_native(archgw.config);
  CHECK(printed.find("{model: \"odd $${name} $$HOME $$$$\"}") != std::string::npos);
  auto again = load(printed);
  REQUIRE(again.routes.size() == archgw.config.routes.size());
  CHECK(again.routes[0].headers.at(0).value == "odd ${name} $HOME $$");
  CHECK(again.routes[1].model == "odd ${name} $HOME $$");
  CHECK(aigw::config::print_native(again) == printed);
}

TEST_CASE("a config is printable UTF-8 text") {
  CHECK_THROWS_WITH_AS(load("backends: [{ name: \"a\xff\", url: 'http://127.0.0.1:1/v1' }]\n"),
                       doctest::Contains("not UTF-8"), config_error);
  // Found by the config fuzz target (tests/fuzz/corpus/config/crash-raw-nul): a raw NUL in a
  // plain scalar was printed as bytes that are not UTF-8.
  CHECK_THROWS_WITH_AS(
      load(std::string("backends: [{ name: a, url: 'http://127.0.0.1:1/v1' }]\nroutes:\n"
                       "  - { backend: a, model_override: a\0b }\n",
                       102)),
      doctest::Contains("line 3: a control character (0x00)"), config_error);
  // A lone CR too (found the same way: yaml-cpp kept it inside a value, and the printed value
  // read back otherwise); CRLF line ends are fine.
  CHECK_THROWS_WITH_AS(load("backends: [{ name: a, url: 'http://127.0.0.1:1/v1' }]\r\n"
                            "routes: [{ backend: a, model_override: a$\rb }]\n"),
                       doctest::Contains("line 2: a control character (0x0d)"), config_error);
  CHECK(load("backends: [{ name: a, url: 'http://127.0.0.1:1/v1' }]\r\n").backends.size() == 1);
  auto escaped = load(
      "backends: [{ name: a, url: 'http://127.0.0.1:1/v1' }]\n"
      "routes: [{ backend: a, model_override: \"a\\x01b\\tc\" }]\n");
  CHECK(escaped.routes[0].targets[0].model_override ==
        "a\x01"
        "b\tc");
  CHECK(load(aigw::config::print_native(escaped)).routes[0].targets[0].model_override ==
        "a\x01"
        "b\tc");
  auto g = load(
      "backends: [{ name: a, url: 'http://127.0.0.1:1/v1' }]\n"
      "routes: [{ match: { model: \"\xc3\xa9t\xc3\xa9\" }, backend: a }, { backend: a }]\n");
  CHECK(g.routes[0].model == "\xc3\xa9t\xc3\xa9");
}

TEST_CASE("a ',' at the top level is an error, not a parser that never ends") {
  // Found by the config fuzz target (tests/fuzz/corpus/config/crash-stray-comma): yaml-cpp's
  // LoadAll kept the same empty document forever, and the gateway grew to gigabytes.
  for (const char* text : {",\n", "# a comment\n  , b\n", "[a, b]\n,\n"}) {
    CHECK_THROWS_WITH_AS(load(text), doctest::Contains("cannot be read past this point"),
                         config_error);
  }
  // Documents that begin where the last one ended are read as before (an Envoy AI Gateway
  // file is several; empty ones are dropped).
  CHECK_THROWS_WITH_AS(load("a: 1\n---\nb: 2\n"), doctest::Contains("one YAML document"),
                       config_error);
  CHECK(load("---\n---\n...\n---\nbackends: [{ name: a, url: 'http://127.0.0.1:1/v1' }]\n")
            .backends.size() == 1);
}

TEST_CASE(
    "Envoy AI Gateway: a request timeout of 0 (Envoy's none) keeps the default, with a warning") {
  // Found by the config fuzz target (tests/fuzz/corpus/config/crash-envoy-zero-timeout): the
  // 0 was taken, and --print-config wrote a first_byte of 0h that does not load again.
  std::ifstream in(std::string(AIGW_CONFIGS_DIR) + "/envoy-aigw-run.yaml");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto at = text.find("request: 3m");
  REQUIRE(at != std::string::npos);
  for (const char* value : {"0s", "0m", "200h"}) {
    auto edited = text;
    edited.replace(at, 11, std::string("request: ") + value);
    auto loaded =
        aigw::config::load_config(edited, aigw::config::config_format::envoy_ai_gateway, fake_env);
    REQUIRE(loaded.config.backends.size() == 1);
    CHECK(loaded.config.backends[0].first_byte_timeout == loaded.config.timeouts.first_byte);
    bool warned = std::any_of(loaded.warnings.begin(), loaded.warnings.end(), [](auto& w) {
      return w.find("timeouts.request") != std::string::npos;
    });
    CHECK_MESSAGE(warned, value);
    CHECK(load(aigw::config::print_native(loaded.config)).backends.size() == 1);
  }
}

TEST_CASE("Envoy AI Gateway: two AIServiceBackends of one name are an error") {
  // Found by the config fuzz target (tests/fuzz/corpus/config/crash-envoy-duplicate-backend):
  // both were kept, and --print-config wrote two backends of one name, which does not load.
  std::ifstream in(std::string(AIGW_CONFIGS_DIR) + "/envoy-aigw-run.yaml");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto from = text.find("apiVersion: aigateway.envoyproxy.io/v1alpha1\nkind: AIServiceBackend");
  REQUIRE(from != std::string::npos);
  auto to = text.find("---", from);
  REQUIRE(to != std::string::npos);
  text += "\n---\n" + text.substr(from, to - from);
  CHECK_THROWS_WITH_AS(
      aigw::config::load_config(text, aigw::config::config_format::envoy_ai_gateway, fake_env),
      doctest::Contains("a backend named \"ollama\" exists already"), config_error);
}

TEST_CASE("a key written twice is an error, and so is a header matched twice") {
  // YAML forbids repeated keys, but yaml-cpp keeps both and reads the first: the second would
  // be ignored without a word.
  CHECK(error_of("backends: [{ name: a, url: 'http://x', url: 'http://y' }]\n")
            .find("backends[0].url: is written twice") == 0);
  // Maps whose keys are the user's own (models, labels, headers) too.
  CHECK(error_of(std::string(kOne) + "prices: { gpt-4o: { input: 1 }, gpt-4o: { input: 2 } }\n")
            .find("prices.gpt-4o: is written twice") == 0);
  // Found by the config fuzz target (tests/fuzz/corpus/config/crash-envoy-header-twice): a
  // header matched twice was printed twice and read back as two matches of the first value.
  CHECK(error_of(std::string(kOne) +
                 "routes:\n  - match: { headers: { X-Team: a, x-team: b } }\n    backend: ollama\n"
                 "  - backend: ollama\n")
            .find("routes[0].match.headers.x-team: is matched twice") == 0);
}

TEST_CASE("Envoy AI Gateway: of header matches on one name, the first counts (Gateway API)") {
  std::ifstream in(std::string(AIGW_CONFIGS_DIR) + "/envoy-aigw-run.yaml");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string match =
      "            - type: Exact\n              name: aigw-backend-selector\n"
      "              value: ollama\n";
  auto at = text.find(match);
  REQUIRE(at != std::string::npos);
  text.insert(at + match.size(),
              "            - type: Exact\n              name: AIGW-Backend-Selector\n"
              "              value: other\n");
  auto loaded =
      aigw::config::load_config(text, aigw::config::config_format::envoy_ai_gateway, fake_env);
  REQUIRE(loaded.config.routes.size() == 2);
  REQUIRE(loaded.config.routes[0].headers.size() == 1);
  CHECK(loaded.config.routes[0].headers[0].value == "ollama");
  bool warned = std::any_of(loaded.warnings.begin(), loaded.warnings.end(), [](auto& w) {
    return w.find("headers[1]: \"aigw-backend-selector\" is matched already") != std::string::npos;
  });
  CHECK(warned);
  auto again = load(aigw::config::print_native(loaded.config));
  REQUIRE(again.routes[0].headers.size() == 1);
  CHECK(again.routes[0].headers[0].value == "ollama");
}

TEST_CASE("archgw: $VAR names a variable; any other text after $ is a literal key") {
  auto load_archgw = [](std::string_view key) {
    return aigw::config::load_config(
        std::string("llm_providers:\n  - name: openai\n    provider_interface: openai\n"
                    "    model: gpt-4o\n    default: true\n    access_key: ") +
            std::string(key) + "\n",
        aigw::config::config_format::archgw, fake_env);
  };
  auto referenced = load_archgw("$OPENAI_API_KEY");
  CHECK(referenced.config.backends[0].api_key == "sk-test");
  CHECK(referenced.config.backends[0].api_key_ref == "${OPENAI_API_KEY}");
  // Not a variable's name: the key as written, printed redacted (never as ${not.a.name}).
  auto literal = load_archgw("\"$not.a.name\"");
  CHECK(literal.config.backends[0].api_key == "$not.a.name");
  CHECK(literal.config.backends[0].api_key_ref.empty());
  auto printed = aigw::config::print_native(literal.config);
  CHECK(printed.find("not.a.name") == std::string::npos);
  CHECK(printed.find("${REDACTED_API_KEY}") != std::string::npos);
}

TEST_CASE("Envoy AI Gateway: a Secret's ${VAR:-default} is printed as ${VAR}, never the default") {
  // The Envoy reader had a rule of its own and printed the whole reference, default and all
  // (the default may be the key itself), through --print-config and the admin /config.
  const std::string text = R"(
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: route }
spec:
  rules:
    - backendRefs:
        - { name: openai }
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIServiceBackend
metadata: { name: openai }
spec:
  schema: { name: OpenAI }
  backendRef: { name: openai-endpoint, kind: Backend, group: gateway.envoyproxy.io }
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: { name: openai-endpoint }
spec:
  endpoints: [{ ip: { address: 127.0.0.1, port: 9 } }]
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: BackendSecurityPolicy
metadata: { name: openai-key }
spec:
  type: APIKey
  targetRefs: [{ name: openai, kind: AIServiceBackend, group: aigateway.envoyproxy.io }]
  apiKey: { secretRef: { name: openai-secret } }
---
apiVersion: v1
kind: Secret
metadata: { name: openai-secret }
stringData: { apiKey: "${UNSET_ENVOY_KEY:-sk-default-secret}" }
)";
  auto loaded =
      aigw::config::load_config(text, aigw::config::config_format::envoy_ai_gateway, fake_env);
  REQUIRE(loaded.config.backends.size() == 1);
  CHECK(loaded.config.backends[0].api_key == "sk-default-secret");
  for (bool admin : {false, true}) {  // --print-config, /config
    auto printed = aigw::config::print_native(loaded.config, admin);
    CHECK(printed.find("sk-default-secret") == std::string::npos);
    CHECK(printed.find("api_key: ${UNSET_ENVOY_KEY}") != std::string::npos);
  }
  CHECK(aigw::config::env_reference("${A:-x}") == "${A}");
  CHECK(aigw::config::env_reference("${A}") == "${A}");
  CHECK(aigw::config::env_reference("${A}${B}").empty());
  CHECK(aigw::config::env_reference("sk-${A}").empty());
}
