// Micro benchmarks of the hot pieces, printed as a markdown table: the JSON body scanner over
// 200 B to 2 MiB bodies with the model first or last, and route matching with 1, 100 and
// 10,000 routes. Each case runs for a fixed time budget and reports the median of 5 rounds.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "aigw/config/loader.hpp"
#include "aigw/json/model_extractor.hpp"
#include "aigw/routing/route_table.hpp"

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
}
