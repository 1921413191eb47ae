#include <doctest/doctest.h>

#include "aigw/config/loader.hpp"
#include "aigw/routing/glob.hpp"
#include "aigw/routing/route_table.hpp"

namespace http = boost::beast::http;
using aigw::routing::glob_match;
using aigw::routing::route_table;

namespace {
aigw::config::gateway load(std::string_view yaml) {
  return aigw::config::load_from_string(yaml, [](std::string_view) { return std::nullopt; });
}

constexpr std::string_view kTable = R"(
backends:
  - { name: ollama, url: "http://127.0.0.1:11434/v1" }
  - { name: openai, url: "https://api.openai.com/v1" }
  - { name: vllm, url: "http://10.0.0.2:8000/v1" }
routes:
  - match: { headers: { aigw-backend-selector: openai } }
    backend: openai
  - match: { model: "gpt-*" }
    backend: openai
  - match: { model: "llama3", headers: { x-team: research } }
    backend: vllm
  - match: { model: "qwen?" }
    backend: vllm
  - match: { model: "llama3" }
    backend: ollama
  - backend: ollama
)";
}  // namespace

TEST_CASE("globs") {
  CHECK(glob_match("*", ""));
  CHECK(glob_match("*", "anything"));
  CHECK(glob_match("gpt-*", "gpt-4o"));
  CHECK_FALSE(glob_match("gpt-*", "chatgpt-4o"));
  CHECK(glob_match("*-mini", "gpt-4o-mini"));
  CHECK(glob_match("a*b*c", "a-b-b-c"));
  CHECK_FALSE(glob_match("a*b*c", "a-b-b-"));
  CHECK(glob_match("qwen?", "qwen3"));
  CHECK_FALSE(glob_match("qwen?", "qwen"));
  CHECK_FALSE(glob_match("qwen?", "qwen32"));
  CHECK(glob_match("exact", "exact"));
  CHECK_FALSE(glob_match("exact", "exact2"));
  CHECK(aigw::routing::is_glob("gpt-*"));
  CHECK_FALSE(aigw::routing::is_glob("llama3"));
}

TEST_CASE("routes: first match wins, headers and globs, then the default") {
  auto config = load(kTable);
  route_table table(config);
  http::fields none;
  http::fields selector;
  selector.set("AIGW-Backend-Selector", "openai");  // header names are case-insensitive
  http::fields research;
  research.set("x-team", "research");
  http::fields wrong_value;
  wrong_value.set("aigw-backend-selector", "OpenAI");  // values are exact

  CHECK(table.match({"llama3", selector}).route_index == 0);
  CHECK(table.match({"gpt-4o", none}).route_index == 1);
  CHECK(table.match({"gpt-4o", none}).backend_index == 1);
  CHECK(table.match({"llama3", research}).route_index == 2);
  CHECK(table.match({"llama3", research}).backend_index == 2);
  CHECK(table.match({"qwen3", none}).route_index == 3);
  CHECK(table.match({"llama3", none}).route_index == 4);
  CHECK(table.match({"mistral", none}).route_index == 5);
  CHECK(table.match({"", none}).route_index == 5);
  CHECK(table.match({"mistral", wrong_value}).route_index == 5);
  CHECK(table.match({"mistral", none}).backend_index == 0);
}

TEST_CASE("a lone backend is the implicit default") {
  auto config = load("backends: [{ name: ollama, url: 'http://127.0.0.1:11434/v1' }]");
  route_table table(config);
  http::fields none;
  CHECK(table.match({"anything", none}).backend_index == 0);
  CHECK(config.routes.size() == 1);
  CHECK(config.routes[0].is_default());
}

TEST_CASE("served models are the exact names, never globs, without duplicates") {
  auto config = load(kTable);
  route_table table(config);
  const auto& models = table.exact_models();
  REQUIRE(models.size() == 1);
  CHECK(models[0].id == "llama3");
  CHECK(models[0].backend_index == 2);
}

#include "aigw/proxy/endpoints.hpp"

TEST_CASE("endpoints: every /v1 path routed, local model listing, everything else unknown") {
  using aigw::proxy::classify;
  using aigw::proxy::endpoint_kind;
  CHECK(classify("/v1/chat/completions").kind == endpoint_kind::routed);
  CHECK(classify("/v1/chat/completions").needs_model);
  CHECK(classify("/v1/chat/completions").rest == "/chat/completions");
  CHECK(classify("/v1/chat/completions/chatcmpl-1").kind == endpoint_kind::routed);
  CHECK_FALSE(classify("/v1/chat/completions/chatcmpl-1").needs_model);
  CHECK(classify("/v1/embeddings").needs_model);
  CHECK(classify("/v1/responses").kind == endpoint_kind::routed);
  CHECK(classify("/v1/responses").needs_model);
  CHECK_FALSE(classify("/v1/responses/resp_1").needs_model);
  CHECK(classify("/v1/responses/resp_1/cancel").kind == endpoint_kind::routed);
  CHECK(classify("/v1/images/generations").kind == endpoint_kind::routed);
  CHECK(classify("/v1/audio/transcriptions").kind == endpoint_kind::routed);
  CHECK(classify("/v1/moderations").kind == endpoint_kind::routed);
  CHECK(classify("/v1/models").kind == endpoint_kind::list_models);
  CHECK(classify("/healthz").kind == endpoint_kind::health);
  CHECK(classify("/v1/models/meta/llama-3").kind == endpoint_kind::retrieve_model);
  // Every /v1 path is routed; only the ones that need a model say so.
  CHECK(classify("/v1/files").kind == endpoint_kind::routed);
  CHECK_FALSE(classify("/v1/files").needs_model);
  CHECK(classify("/v1/vector_stores/vs_1/files").kind == endpoint_kind::routed);
  CHECK(classify("/v1/moderationsx").kind == endpoint_kind::routed);
  CHECK(classify("/v1").kind == endpoint_kind::unknown);
  CHECK(classify("/v1/organization/admin_api_keys").kind == endpoint_kind::unknown);
  CHECK(classify("/v1/organizationx").kind == endpoint_kind::routed);
  CHECK(classify("/v1/").kind == endpoint_kind::unknown);
  CHECK(classify("/v1x/files").kind == endpoint_kind::unknown);
  CHECK(classify("/v2/chat/completions").kind == endpoint_kind::unknown);
  CHECK(classify("/").kind == endpoint_kind::unknown);
  CHECK(classify("/v1/images/../../admin").kind == endpoint_kind::unknown);
  CHECK(classify("/v1/images/./x").kind == endpoint_kind::unknown);
  CHECK(classify("/v1/audio/%2e%2e/x").kind == endpoint_kind::unknown);
  CHECK(classify("/v1/audio/%2E%2E/x").kind == endpoint_kind::unknown);
}

TEST_CASE("endpoints: encoded slashes and backslashes cannot leave the base path") {
  using aigw::proxy::classify;
  using aigw::proxy::endpoint_kind;
  CHECK(classify("/v1/images/..%2F..%2Fadmin").kind == endpoint_kind::unknown);
  CHECK(classify("/v1/images/x%2fy").kind == endpoint_kind::unknown);
  CHECK(classify("/v1/images/x%5Cy").kind == endpoint_kind::unknown);
  CHECK(classify("/v1/images/x\\y").kind == endpoint_kind::unknown);
  CHECK(classify("/v1/images/generations%20x").kind == endpoint_kind::routed);
}

TEST_CASE("model overrides: literal, or the glob's capture in place of *") {
  auto config = load(R"(
backends: [{ name: a, url: "http://127.0.0.1:1/v1" }]
routes:
  - { match: { model: "alias" }, backend: a, model_override: "gpt-4o-mini" }
  - { match: { model: "openai/*" }, backend: a, model_override: "*" }
  - { match: { model: "local-*-chat" }, backend: a, model_override: "ollama/*" }
  - { match: { model: "keep" }, backend: a }
  - { backend: a, model_override: "x-*" }
)");
  route_table table(config);
  CHECK(table.upstream_model({0, 0, 0}, "alias") == "gpt-4o-mini");
  CHECK(table.upstream_model({1, 0, 0}, "openai/gpt-4o") == "gpt-4o");
  CHECK(table.upstream_model({2, 0, 0}, "local-llama3-chat") == "ollama/llama3");
  CHECK(table.upstream_model({3, 0, 0}, "keep").empty());
  CHECK(table.upstream_model({4, 0, 0}, "anything") == "x-anything");
}

TEST_CASE("regular expressions (RE2, whole value) on the model and on headers") {
  auto config = load(R"(
backends: [{ name: a, url: "http://127.0.0.1:1/v1" }, { name: b, url: "http://127.0.0.1:2/v1" }]
routes:
  - { match: { model: { regex: "gpt-4o(-mini)?" } }, backend: b }
  - { match: { headers: { x-team: { regex: "res(earch)?|lab" } } }, backend: b }
  - { backend: a }
)");
  route_table table(config);
  http::fields none;
  http::fields team;
  team.set("x-team", "lab");
  http::fields other_team;
  other_team.set("x-team", "laboratory");  // a whole-value match, not a search
  CHECK(table.match({"gpt-4o", none}).route_index == 0);
  CHECK(table.match({"gpt-4o-mini", none}).route_index == 0);
  CHECK(table.match({"gpt-4o-mini-2024", none}).route_index == 2);
  CHECK(table.match({"x", team}).route_index == 1);
  CHECK(table.match({"x", other_team}).route_index == 2);
  CHECK(table.exact_models().empty());
}

TEST_CASE("a bad regular expression fails at start-up, naming the path") {
  try {
    load(R"(
backends: [{ name: a, url: "http://127.0.0.1:1/v1" }]
routes: [{ match: { model: { regex: "gpt-(4o" } }, backend: a }]
)");
    FAIL("loaded");
  } catch (const aigw::config::config_error& e) {
    CHECK(std::string(e.what()).find(
              "routes[0].match.model.regex: not a valid regular expression") == 0);
  }
}

TEST_CASE("weighted targets share a route's requests by weight") {
  auto config = load(R"(
backends: [{ name: a, url: "http://127.0.0.1:1/v1" }, { name: b, url: "http://127.0.0.1:2/v1" }]
routes:
  - backends: [{ backend: a, weight: 3 }, { backend: b, weight: 1, model_override: small }]
)");
  route_table table(config);
  http::fields none;
  int to_a = 0, to_b = 0;
  for (int i = 0; i < 4000; ++i) {
    auto r = table.match({"m", none});
    if (r.backend_index == 0) {
      ++to_a;
      CHECK(table.upstream_model(r, "m").empty());
    } else {
      ++to_b;
      CHECK(table.upstream_model(r, "m") == "small");
    }
  }
  // 3:1 of 4000 is 3000:1000; the bounds are many standard deviations (27) wide.
  CHECK(to_a > 2700);
  CHECK(to_a < 3300);
  CHECK(to_a + to_b == 4000);
}

TEST_CASE("backends and backend are exclusive; weights are positive") {
  auto error_of = [](std::string_view yaml) -> std::string {
    try {
      load(yaml);
    } catch (const aigw::config::config_error& e) {
      return e.what();
    }
    return "";
  };
  constexpr std::string_view two =
      "backends: [{ name: a, url: 'http://x' }, { name: b, url: 'http://y' }]\n";
  CHECK(error_of(std::string(two) + "routes: [{ backend: a, backends: [{ backend: b }] }]\n")
            .find("routes[0]: write either backend") == 0);
  CHECK(error_of(std::string(two) + "routes: [{ backends: [{ backend: a, weight: 0 }] }]\n")
            .find("routes[0].backends[0].weight:") == 0);
  CHECK(error_of(std::string(two) + "routes: [{ backends: [{ backend: c }] }]\n")
            .find("routes[0].backends[0].backend: unknown backend") == 0);
}
