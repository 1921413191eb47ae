// The pure parts of resilience: the order a route's targets are tried in (priorities, smooth
// weighted round robin, targets out of rotation), a backend's breaker and back-off, and the
// headers a 429 asks for quiet with.
#include <doctest/doctest.h>

#include <map>

#include <boost/beast/http/fields.hpp>

#include "aigw/config/loader.hpp"
#include "aigw/proxy/resume_stage.hpp"
#include "aigw/routing/route_table.hpp"
#include "aigw/upstream/backend_health.hpp"

namespace http = boost::beast::http;
using aigw::routing::route_table;
using aigw::upstream::backend_health;
using namespace std::chrono_literals;

namespace {

aigw::config::gateway load(std::string_view yaml) {
  return aigw::config::load_from_string(yaml, [](std::string_view) { return std::nullopt; });
}

constexpr std::string_view kLevels = R"(
backends:
  - { name: a, url: "http://127.0.0.1:1/v1" }
  - { name: b, url: "http://127.0.0.1:2/v1" }
  - { name: c, url: "http://127.0.0.1:3/v1" }
  - { name: d, url: "http://127.0.0.1:4/v1" }
routes:
  - backends:
      - { backend: a, weight: 5 }
      - { backend: b, weight: 1 }
      - { backend: c, weight: 1 }
      - { backend: d, priority: 1 }
)";

std::vector<std::uint32_t> order_of(const route_table& table, std::vector<bool> in = {}) {
  aigw::routing::target_order order;
  table.order_targets(
      0, [&](std::uint32_t backend) { return in.empty() || in[backend]; }, order);
  std::vector<std::uint32_t> out;
  for (const auto& t : order) out.push_back(t.backend_index);
  return out;
}

}  // namespace

TEST_CASE("smooth weighted round robin: exact shares, interleaved, per priority level") {
  auto config = load(kLevels);
  route_table table(config);
  std::map<std::uint32_t, int> first;
  std::vector<std::uint32_t> sequence;
  for (int i = 0; i < 7000; ++i) {
    auto order = order_of(table);
    REQUIRE(order.size() == 4);
    CHECK(order.back() == 3);  // priority 1 comes after every priority-0 target
    ++first[order.front()];
    if (i < 7) sequence.push_back(order.front());
  }
  CHECK(first[0] == 5000);
  CHECK(first[1] == 1000);
  CHECK(first[2] == 1000);
  CHECK(first[3] == 0);
  // Smooth: the heavy target's turns are spread out, never five in a row.
  CHECK(sequence == std::vector<std::uint32_t>{0, 0, 1, 0, 2, 0, 0});
}

TEST_CASE("targets out of rotation are left out; a higher level only when a lower one is out") {
  auto config = load(kLevels);
  route_table table(config);
  for (int i = 0; i < 20; ++i) {
    auto order = order_of(table, {false, true, true, true});
    REQUIRE(order.size() == 3);
    CHECK(order.front() != 0);
    CHECK(order.back() == 3);
  }
  CHECK(order_of(table, {false, false, false, true}) == std::vector<std::uint32_t>{3});
  CHECK(order_of(table, {false, false, false, false}).empty());
}

TEST_CASE("weights over 1,000 in all are scaled, not expanded") {
  auto config = load(R"(
backends:
  - { name: a, url: "http://127.0.0.1:1/v1" }
  - { name: b, url: "http://127.0.0.1:2/v1" }
routes:
  - backends: [ { backend: a, weight: 999999 }, { backend: b, weight: 1 } ]
)");
  route_table table(config);
  int b = 0;
  for (int i = 0; i < 1000; ++i) b += order_of(table).front() == 1;
  CHECK(b == 1);  // never starved: scaled to 999:1
}

TEST_CASE("retry, priority, circuit_breaker and drain_timeout parse, and print back") {
  auto config = load(R"(
drain_timeout: 5s
circuit_breaker: { consecutive_failures: 3, cooldown: 10s }
backends:
  - { name: a, url: "http://127.0.0.1:1/v1" }
  - { name: b, url: "http://127.0.0.1:2/v1", circuit_breaker: off }
routes:
  - backends: [ { backend: a }, { backend: b, priority: 2 } ]
    retry: { attempts: 4, on: [connect, 429], backoff: 250ms }
)");
  CHECK(config.drain_timeout == 5s);
  CHECK(config.backends[0].breaker.consecutive_failures == 3);
  CHECK(config.backends[0].breaker.cooldown == 10s);
  CHECK_FALSE(config.backends[1].breaker.enabled);
  const auto& route = config.routes[0];
  CHECK(route.targets[1].priority == 2);
  CHECK(route.retry.attempts == 4);
  CHECK(route.retry.on_connect);
  CHECK(route.retry.on_429);
  CHECK_FALSE(route.retry.on_5xx);
  CHECK_FALSE(route.retry.on_timeout);
  CHECK(route.retry.backoff == 250ms);

  auto again = load(aigw::config::print_native(config));
  CHECK(again.drain_timeout == 5s);
  CHECK(again.backends[0].breaker == config.backends[0].breaker);
  CHECK_FALSE(again.backends[1].breaker.enabled);
  CHECK(again.routes[0].targets[1].priority == 2);
  CHECK(again.routes[0].retry.attempts == 4);
  CHECK_FALSE(again.routes[0].retry.on_5xx);
  CHECK(again.routes[0].retry.backoff == 250ms);

  CHECK_THROWS_WITH_AS(load(R"(
backends: [ { name: a, url: "http://127.0.0.1:1/v1" } ]
routes: [ { backend: a, retry: { on: [connect, 404] } } ]
)"),
                       doctest::Contains("routes[0].retry.on[1]"), aigw::config::config_error);
  CHECK_THROWS_AS(load(R"(
backends: [ { name: a, url: "http://127.0.0.1:1/v1", circuit_breaker: { failure_rate: 2 } } ]
)"),
                  aigw::config::config_error);
}

TEST_CASE("breaker: opens after consecutive failures, one probe after the cooldown decides") {
  aigw::config::circuit_breaker settings;
  settings.consecutive_failures = 3;
  settings.failure_rate = 0;
  settings.cooldown = 10s;
  backend_health health("x", settings);
  auto t0 = std::chrono::steady_clock::now();
  using admission = backend_health::admission;
  using state = backend_health::state;

  health.failed(admission::normal, t0);
  health.failed(admission::normal, t0);
  health.succeeded(admission::normal, t0);  // a success breaks the run
  health.failed(admission::normal, t0);
  health.failed(admission::normal, t0);
  CHECK(health.current_state() == state::closed);
  CHECK(health.admit(t0) == admission::normal);
  health.failed(admission::normal, t0);
  CHECK(health.current_state() == state::open);
  CHECK(health.admit(t0 + 9s) == admission::refused);
  CHECK_FALSE(health.in_rotation(t0 + 9s));
  CHECK(health.in_rotation(t0 + 10s));

  // After the cooldown: one probe, everyone else still skips it.
  CHECK(health.admit(t0 + 10s) == admission::probe);
  CHECK(health.current_state() == state::half_open);
  CHECK(health.admit(t0 + 10s) == admission::refused);
  health.failed(admission::probe, t0 + 11s);
  CHECK(health.current_state() == state::open);
  CHECK(health.admit(t0 + 20s) == admission::refused);
  CHECK(health.admit(t0 + 21s) == admission::probe);
  health.succeeded(admission::probe, t0 + 21s);
  CHECK(health.current_state() == state::closed);
  CHECK(health.admit(t0 + 21s) == admission::normal);
  CHECK(health.transitions(state::open) == 2);
  CHECK(health.transitions(state::half_open) == 2);
  CHECK(health.transitions(state::closed) == 1);
}

TEST_CASE("breaker: a probe that never reports lets another through after a cooldown") {
  aigw::config::circuit_breaker settings;
  settings.consecutive_failures = 1;
  settings.cooldown = 1s;
  backend_health health("x", settings);
  auto t0 = std::chrono::steady_clock::now();
  health.failed(backend_health::admission::normal, t0);
  CHECK(health.admit(t0 + 1s) == backend_health::admission::probe);
  CHECK(health.admit(t0 + 1500ms) == backend_health::admission::refused);
  CHECK(health.admit(t0 + 2s) == backend_health::admission::probe);
}

TEST_CASE("breaker: a failure rate over a window opens it") {
  aigw::config::circuit_breaker settings;
  settings.consecutive_failures = 1000;
  settings.failure_rate = 0.5;
  settings.min_requests = 10;
  settings.window = 10s;
  backend_health health("x", settings);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 6; ++i) health.succeeded(backend_health::admission::normal, t0);
  for (int i = 0; i < 5; ++i) health.failed(backend_health::admission::normal, t0);
  CHECK(health.current_state() == backend_health::state::closed);  // 5 of 11: under half
  health.failed(backend_health::admission::normal, t0);            // 6 of 12
  CHECK(health.current_state() == backend_health::state::open);

  // Counts of an old window do not carry over.
  backend_health fresh("y", settings);
  for (int i = 0; i < 9; ++i) fresh.failed(backend_health::admission::normal, t0);
  for (int i = 0; i < 12; ++i) fresh.succeeded(backend_health::admission::normal, t0 + 11s);
  fresh.failed(backend_health::admission::normal, t0 + 11s);
  CHECK(fresh.current_state() == backend_health::state::closed);
}

TEST_CASE("back-off: a 429 takes the backend out for its time, then it is back, breaker closed") {
  aigw::config::circuit_breaker settings;
  backend_health health("x", settings);
  auto t0 = std::chrono::steady_clock::now();
  health.back_off(2s, t0);
  CHECK(health.admit(t0 + 1s) == backend_health::admission::refused);
  CHECK(health.admit(t0 + 2s) == backend_health::admission::normal);
  CHECK(health.admit(t0 + 2s) == backend_health::admission::normal);
  CHECK(health.current_state() == backend_health::state::closed);
  CHECK(health.backoffs() == 1);
  // A shorter back-off never shortens a longer one.
  health.back_off(10s, t0);
  health.back_off(1s, t0);
  CHECK_FALSE(health.in_rotation(t0 + 5s));
}

TEST_CASE("how long a 429 asks for quiet") {
  auto now = std::chrono::system_clock::from_time_t(1'700'000'000);
  auto backoff = [&](std::vector<std::pair<std::string, std::string>> headers) {
    http::fields f;
    for (const auto& [name, value] : headers) f.insert(name, value);
    return aigw::upstream::backoff_from(f, now);
  };
  CHECK(backoff({{"retry-after", "7"}}) == 7000ms);
  CHECK(backoff({{"retry-after-ms", "250"}, {"retry-after", "7"}}) == 250ms);
  // 1,700,000,030 seconds since the epoch, as an HTTP date.
  CHECK(backoff({{"retry-after", "Tue, 14 Nov 2023 22:13:50 GMT"}}) == 30000ms);
  CHECK(backoff({{"retry-after", "Tue, 14 Nov 2023 22:13:00 GMT"}}) == 0ms);  // in the past
  CHECK(backoff({{"x-ratelimit-reset-requests", "1s"}, {"x-ratelimit-reset-tokens", "6m0s"}}) ==
        360000ms);
  CHECK(backoff({{"retry-after", "999999999"}}) ==
        std::chrono::milliseconds(std::chrono::hours(1)));
  CHECK_FALSE(backoff({{"retry-after", "soon"}}).has_value());
  CHECK_FALSE(backoff({}).has_value());

  using aigw::upstream::parse_go_duration;
  CHECK(parse_go_duration("20ms") == 20ms);
  CHECK(parse_go_duration("1m30.5s") == 90500ms);
  CHECK(parse_go_duration("2h") == std::chrono::milliseconds(std::chrono::hours(2)));
  CHECK_FALSE(parse_go_duration("").has_value());
  CHECK_FALSE(parse_go_duration("5").has_value());
  CHECK_FALSE(parse_go_duration("1x").has_value());
}

TEST_CASE("resume stage: whole events only, any split; a continuation joins under the first id") {
  using aigw::proxy::resume_stage;
  boost::beast::http::response_header<> head;
  head.result(200);
  head.set(boost::beast::http::field::content_type, "text/event-stream");
  const std::string first =
      "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
      "\"content\":\"\"}}]}\n\n"
      "data: "
      "{\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n"
      "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo "
      "\\\"w\"}}]}"
      "\n\ndata: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"or";
  for (std::size_t split = 1; split < first.size(); split += 7) {
    resume_stage stage;
    stage.start();
    stage.on_head(head);
    REQUIRE(stage.output() != nullptr);
    stage.on_data(std::string_view(first).substr(0, split));
    stage.on_data(std::string_view(first).substr(split));
    // The cut: the incomplete last event never reaches the client.
    CHECK(*stage.output() == first.substr(0, first.rfind("data:")));
    CHECK(stage.relayed_text() == "Hello \"w");
    CHECK(stage.resumable());
    stage.on_end(false);
  }

  resume_stage stage;
  stage.start();
  stage.on_head(head);
  stage.on_data(first);
  stage.output()->clear();
  stage.continue_stream();
  stage.on_head(head);
  stage.on_data(
      "data: {\"id\":\"other\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
      "\"content\":\"\"}}]}\n\n"
      "data: {\"id\":\"other\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
      "\"content\":\"or\"}}]}\n\n"
      "data: "
      "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ld\"},\"finish_reason\":\"stop\"}],"
      "\"id\":\"other\"}\n\ndata: [DONE]\n\n");
  CHECK(*stage.output() ==
        "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"or\"}}]}"
        "\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ld\"},\"finish_reason\":"
        "\"stop\"}],\"id\":\"chatcmpl-1\"}\n\ndata: [DONE]\n\n");
  CHECK_FALSE(stage.resumable());  // [DONE] went through
}

TEST_CASE("resume stage: tool calls, n > 1 and logprobs are not resumable; an error event fails") {
  using aigw::proxy::resume_stage;
  boost::beast::http::response_header<> head;
  head.result(200);
  head.set(boost::beast::http::field::content_type, "text/event-stream");
  for (
      std::string chunk :
      {R"({"id":"x","choices":[{"index":0,"delta":{"tool_calls":[{"index":0}]}}]})",
       R"({"id":"x","choices":[{"index":1,"delta":{"content":"a"}}]})",
       R"({"id":"x","choices":[{"index":0,"delta":{"content":"a"},"logprobs":{"content":[]}}]})"}) {
    resume_stage stage;
    stage.start();
    stage.on_head(head);
    stage.on_data("data: " + chunk + "\n\n");
    CHECK_FALSE(stage.resumable());
  }
  resume_stage stage;
  stage.start();
  stage.on_head(head);
  stage.on_data(
      "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n"
      "data: {\"error\":{\"message\":\"overloaded\"}}\n\n");
  CHECK(stage.failed());
  CHECK(stage.resumable());
  CHECK(stage.output()->find("overloaded") == std::string::npos);
}
