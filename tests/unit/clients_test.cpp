// Client budgets: the shared fixed-window counter (exact under contention, a new window from
// zero, corrections), admission all-or-none across windows, charging the real usage, and
// finding a client by the key a request presents.
#include <doctest/doctest.h>

#include <thread>
#include <vector>

#include <boost/beast/http/fields.hpp>

#include "aigw/proxy/clients.hpp"
#include "aigw/upstream/sigv4.hpp"

using namespace aigw;
using proxy::client_table;
using proxy::window_counter;

TEST_CASE("window counter: a limit never overshot by concurrent adds; a new window starts at 0") {
  window_counter counter;
  std::uint64_t count = 0;
  std::uint32_t seven = 7, eight = 8, one = 1;
  CHECK(counter.try_add(seven, 5, 10, count));
  CHECK(count == 5);
  CHECK_FALSE(counter.try_add(seven, 6, 10, count));
  CHECK(count == 5);
  CHECK_FALSE(counter.try_add(seven, ~std::uint64_t(0) - 2, 10, count));  // no wrap-around
  CHECK(counter.count(7) == 5);
  counter.adjust(7, -3);
  CHECK(counter.count(7) == 2);
  counter.adjust(7, -30);  // never below 0
  CHECK(counter.count(7) == 0);
  CHECK(counter.try_add(eight, 10, 10, count));  // the next window
  std::uint32_t late = 7;  // a worker whose clock read is older counts in the newer window
  CHECK_FALSE(counter.try_add(late, 1, 10, count));
  CHECK(late == 7);
  CHECK(counter.count(7) == 0);
  CHECK(counter.count(8) == 10);
  counter.adjust(7, 5);  // a correction for a window that ended: dropped
  CHECK(counter.count(8) == 10);

  window_counter shared;
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      std::uint64_t c = 0;
      for (int i = 0; i < 10000; ++i) {
        auto w = one;
        if (shared.try_add(w, 3, 9999, c)) ++admitted;
      }
    });
  for (auto& t : threads) t.join();
  CHECK(admitted == 3333);  // 3 x 3333 = 9999: exactly the limit
  CHECK(shared.count(1) == 9999);
}

TEST_CASE("client admission: all windows or none, the real usage charged, reset times") {
  config::client c;
  c.name = "team";
  c.key_sha256 = upstream::sha256_hex("sk-team");
  c.limits.requests_per_minute = 100;
  c.limits.tokens_per_minute = 1000;
  c.limits.tokens_per_day = 1100;
  auto table = client_table::compile({c}, nullptr);
  const auto* client = table.find("sk-team");
  REQUIRE(client != nullptr);
  CHECK(table.find("sk-other") == nullptr);
  CHECK(table.find("") == nullptr);

  // 2026-02-14 00:00:45 UTC.
  auto now = std::chrono::system_clock::time_point(std::chrono::seconds(86400ll * 20498 + 45));
  auto a = client_table::admit(*client, 300, 500, now);  // reserves 800
  REQUIRE(a.admitted);
  CHECK(a.reserved_tokens == 800);
  auto refused = client_table::admit(*client, 100, 200, now);  // 800 + 300 > 1000
  CHECK_FALSE(refused.admitted);
  CHECK(refused.limit == "tokens");
  CHECK(refused.limit_value == 1000);
  CHECK(refused.remaining == 200);
  CHECK(refused.reset.count() == 15);  // the minute ends in 15 s
  CHECK(refused.window == "minute");
  CHECK(client->usage->requests_minute.count(a.request_minute) == 1);  // the refused one given back
  client_table::charge(*client, a, 100, 50);                           // it cost 150
  CHECK(client->usage->tokens_minute.count(a.token_minute) == 150);
  CHECK(client->usage->tokens_day.count(a.token_day) == 150);
  // The day's budget: 150 + 1000 > 1100 refuses, and gives the minute's tokens back.
  auto big = client_table::admit(*client, 400, 600, now + std::chrono::minutes(1));
  CHECK_FALSE(big.admitted);
  CHECK(big.limit_value == 1100);
  CHECK(big.window == "day");
  CHECK(client->usage->tokens_minute.count(big.token_minute) == 0);
  // A max_tokens no budget can hold: refused as such, nothing counted, no wrap-around.
  auto huge = client_table::admit(*client, 1, ~std::uint64_t(0) - 5, now + std::chrono::minutes(2));
  CHECK_FALSE(huge.admitted);
  CHECK(huge.never_fits);
  CHECK(client->usage->tokens_minute.count(huge.token_minute) == 0);

  // A reload keeps the counts of an unchanged client, not of a changed one.
  auto same = client_table::compile({c}, &table);
  CHECK(same.find("sk-team")->usage == client->usage);
  auto changed_config = c;
  changed_config.limits.tokens_per_day = 2000;
  auto changed = client_table::compile({changed_config}, &table);
  CHECK(changed.find("sk-team")->usage != client->usage);
}

TEST_CASE("the key a request presents, and the model allow-list") {
  boost::beast::http::fields h;
  CHECK(client_table::presented_key(h).empty());
  h.set("x-api-key", "sk-x");
  CHECK(client_table::presented_key(h) == "sk-x");
  h.set(boost::beast::http::field::authorization, "Bearer sk-bearer");
  CHECK(client_table::presented_key(h) == "sk-bearer");
  h.set(boost::beast::http::field::authorization, "Basic dXNlcg==");
  CHECK(client_table::presented_key(h) == "sk-x");

  config::client c;
  c.name = "n";
  c.key_sha256 = upstream::sha256_hex("k");
  c.models = {"gpt-4o*", "llama3"};
  auto table = client_table::compile({c}, nullptr);
  const auto& e = *table.find("k");
  CHECK(client_table::allows(e, "gpt-4o-mini"));
  CHECK(client_table::allows(e, "llama3"));
  CHECK_FALSE(client_table::allows(e, "llama3:70b"));
  using kind = config::client::budget::kind;
  CHECK(client_table::counted(e, 10, 5) == 15);
  c.limits.tokens = kind::output;
  auto output_only = client_table::compile({c}, nullptr);
  CHECK(client_table::counted(*output_only.find("k"), 10, 5) == 5);
}
