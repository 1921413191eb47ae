// Micro benchmarks of the hot pieces, printed as a markdown table: the JSON body scanner over
// 200 B to 2 MiB bodies with the model first or last, route matching with 1, 100 and 10,000
// routes, a client's key lookup and budget, and the translation of an Anthropic stream into
// OpenAI chunks. Each case runs for a fixed time budget and reports the median of 5 rounds.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "aigw/config/loader.hpp"
#include "aigw/json/model_extractor.hpp"
#include "aigw/providers/anthropic_stage.hpp"
#include "aigw/proxy/clients.hpp"
#include "aigw/routing/route_table.hpp"
#include "aigw/upstream/sigv4.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

// Nanoseconds per call of f, the median of 5 rounds of ~100 ms each.
double time_per_call(const std::function<void()>& f) {
  std::vector<double> rounds;
  for (int round = 0; round < 5; ++round) {
    size_t calls = 0;
    auto start = clock_type::now();
    auto deadline = start + std::chrono::milliseconds(100);
    clock_type::time_point now;
    do {
      for (int i = 0; i < 16; ++i) f();
      calls += 16;
      now = clock_type::now();
    } while (now < deadline);
    rounds.push_back(std::chrono::duration<double, std::nano>(now - start).count() /
                     static_cast<double>(calls));
  }
  std::sort(rounds.begin(), rounds.end());
  return rounds[2];
}

std::string chat_body(size_t target_size, bool model_first) {
  std::string messages;
  std::string message =
      R"({"role":"user","content":"The quick brown fox jumps over the lazy dog. \u00e9"},)";
  do messages += message;
  while (messages.size() + 64 < target_size);
  messages.pop_back();
  return model_first
             ? fmt::format(R"({{"model":"gpt-4o-mini","stream":true,"messages":[{}]}})", messages)
             : fmt::format(R"({{"messages":[{}],"stream":true,"model":"gpt-4o-mini"}})", messages);
}

std::string human_size(size_t n) {
  if (n >= (1u << 20)) return fmt::format("{:.0f} MiB", static_cast<double>(n) / (1u << 20));
  if (n >= 1024) return fmt::format("{:.0f} KiB", static_cast<double>(n) / 1024);
  return fmt::format("{} B", n);
}

aigw::config::gateway table_config(size_t routes) {
  std::string yaml = "backends: [{ name: a, url: 'http://127.0.0.1:1/v1' }]\nroutes:\n";
  for (size_t i = 0; i + 1 < routes; ++i)
    yaml += fmt::format("  - {{ match: {{ model: model-{} }}, backend: a }}\n", i);
  yaml += "  - backend: a\n";
  return aigw::config::load_from_string(yaml, [](std::string_view) { return std::nullopt; });
}

}  // namespace

int main() {
  if (!aigw::json::simd_supported()) return 1;
  std::printf("| micro benchmark | time per call | throughput |\n|---|---:|---:|\n");
  for (size_t size : {size_t{200}, size_t{10} << 10, size_t{2} << 20}) {
    for (bool first : {true, false}) {
      std::string body = chat_body(size, first);
      body.reserve(body.size() + aigw::json::parse_padding);
      double ns = time_per_call([&] {
        aigw::json::request_fields fields;
        if (aigw::json::extract_request_fields(body, fields) != aigw::errc::ok) std::abort();
      });
      std::printf("| JSON scan, %s body, model %s | %.0f ns | %.2f GB/s |\n",
                  human_size(body.size()).c_str(), first ? "first" : "last", ns,
                  static_cast<double>(body.size()) / ns);
    }
  }
  boost::beast::http::fields headers;
  headers.set(boost::beast::http::field::content_type, "application/json");
  headers.set(boost::beast::http::field::authorization, "Bearer sk-bench");
  for (size_t routes : {size_t{1}, size_t{100}, size_t{10000}}) {
    auto config = table_config(routes);
    aigw::routing::route_table table(config);
    std::string last_exact = routes > 1 ? fmt::format("model-{}", routes - 2) : "none";
    for (auto [label, model] : {std::pair{"last exact route", std::string_view(last_exact)},
                                std::pair{"default route", std::string_view("unknown-model")}}) {
      double ns = time_per_call([&] {
        auto r = table.match({model, headers});
        if (r.route_index >= routes) std::abort();
      });
      std::printf("| route match, %zu routes, %s | %.0f ns | %.1f M/s |\n", routes, label, ns,
                  1000.0 / ns);
    }
  }

  // A client's admission as a request pays it: the key found by its SHA-256 among 1,000
  // clients, the model checked against its allow-list, the budget reserved in three windows,
  // and the usage charged at the end.
  std::vector<aigw::config::client> clients;
  for (int i = 0; i < 1000; ++i) {
    aigw::config::client c;
    c.name = fmt::format("client-{}", i);
    c.key_sha256 = aigw::upstream::sha256_hex(fmt::format("sk-client-{:032}", i));
    c.models = {"gpt-4o*", "llama3*"};
    c.limits.requests_per_minute = 1ull << 38;
    c.limits.tokens_per_minute = 1ull << 38;
    c.limits.tokens_per_day = 1ull << 38;
    clients.push_back(std::move(c));
  }
  auto table = aigw::proxy::client_table::compile(clients, nullptr);
  boost::beast::http::fields client_headers;
  client_headers.set(boost::beast::http::field::authorization,
                     fmt::format("Bearer sk-client-{:032}", 500));
  double ns = time_per_call([&] {
    const auto* client = table.find(aigw::proxy::client_table::presented_key(client_headers));
    if (!client || !aigw::proxy::client_table::allows(*client, "llama3.2")) std::abort();
    auto a = aigw::proxy::client_table::admit(*client, 50, 100, std::chrono::system_clock::now());
    if (!a.admitted) std::abort();
    aigw::proxy::client_table::charge(*client, a, 40, 60);
  });
  std::printf(
      "| client key lookup + model check + budget reserve and charge, 1,000 clients | %.0f ns | "
      "%.1f M/s |\n",
      ns, 1000.0 / ns);

  // An Anthropic backend's answer as an OpenAI client gets it: the translating stage's whole
  // work (events found, parsed, their string tokens checked and spliced into chunks), per event.
  std::string stream =
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01\","
      "\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],"
      "\"usage\":{\"input_tokens\":30,\"output_tokens\":1}}}\n\n"
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
      "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n";
  constexpr int kDeltas = 20;
  for (int i = 0; i < kDeltas; ++i)
    stream +=
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"text_delta\",\"text\":\"The quick brown \\\"fox\\\" "
        "jumps\\n\"}}\n\n";
  stream +=
      "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
      "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
      "\"end_turn\"},\"usage\":{\"output_tokens\":60}}\n\n"
      "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
  constexpr int kEvents = kDeltas + 5;
  aigw::providers::anthropic::chat_stage stage;
  boost::beast::http::response_header<> head;
  head.result(200);
  head.set(boost::beast::http::field::content_type, "text/event-stream");
  ns = time_per_call([&] {
    stage.prepare(true);
    stage.on_head(head);
    stage.on_data(stream);
    stage.on_end(true);
    if (stage.failed() || stage.output()->empty()) std::abort();
    stage.output()->clear();
  });
  std::printf("| Anthropic stream to OpenAI chunks, %d events, per event | %.0f ns | %.2f GB/s |\n",
              kEvents, ns / kEvents, static_cast<double>(stream.size()) / ns);
}
