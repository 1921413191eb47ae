// The relay's response stages, end to end over real sockets: an upstream on 127.0.0.1 writes
// a response in pieces (each piece its own read, so events and chunk heads are split across
// reads), proxy::forward relays it, and the client side's bytes are parsed back.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "aigw/core/deadline.hpp"
#include "aigw/metrics/worker_stats.hpp"
#include "aigw/proxy/client_watch.hpp"
#include "aigw/proxy/exchange.hpp"
#include "aigw/proxy/response_stage.hpp"
#include "aigw/upstream/connection_pool.hpp"
#include "aigw/upstream/target.hpp"

namespace {

using namespace aigw;
namespace http = boost::beast::http;

// Reads: everything it is given, as given.
struct recording_stage : proxy::response_stage {
  unsigned status = 0;
  std::string data;
  int ends = 0;
  bool complete = false;
  void on_head(const http::response_header<>& head) override { status = head.result_int(); }
  void on_data(std::string_view bytes) override { data.append(bytes); }
  void on_end(bool c) override {
    ++ends;
    complete = c;
  }
};

// Rewrites: each whole line becomes "<n>: <line>\n"; a partial line is held until its end
// arrives (or the body ends), so pieces split mid-line send nothing early.
struct numbering_stage : proxy::response_stage {
  std::string out, held;
  int lines = 0;
  int ends = 0;
  bool complete = false;
  void on_head(const http::response_header<>&) override {}
  void on_data(std::string_view bytes) override {
    held.append(bytes);
    std::size_t at;
    while ((at = held.find('\n')) != std::string::npos) {
      out += std::to_string(++lines) + ": " + held.substr(0, at + 1);
      held.erase(0, at + 1);
    }
  }
  void on_end(bool c) override {
    ++ends;
    complete = c;
    if (c && !held.empty()) out += std::to_string(++lines) + ": " + held + "\n";
    if (c) out += "end\n";
  }
  std::string* output() override { return &out; }
};

// Reads the whole body before the head, and says in the head how many bytes it read.
struct counting_stage : proxy::response_stage {
  std::size_t bytes = 0;
  int ends = 0;
  void on_head(const http::response_header<>&) override {}
  void on_data(std::string_view b) override { bytes += b.size(); }
  void on_end(bool) override { ++ends; }
  bool wants_body_before_head() const override { return true; }
  void head_fields(std::string& out) const override {
    out += "x-counted: " + std::to_string(bytes) + "\r\n";
  }
};

struct relayed {
  proxy::exchange_result result;
  std::string raw;  // every byte the client received
  http::response<http::string_body> response;
  bool parsed = false;
};

// The upstream writes `pieces` one by one, a few milliseconds apart, then closes; the client
// (HTTP/1.`minor`) collects what the gateway sends until the gateway closes.
relayed relay(std::vector<std::string> pieces, std::vector<proxy::response_stage*> stages,
              unsigned client_version = 11) {
  net::io_context io;
  deadline_sweeper sweeper(io);
  upstream::connection_pool pool(1, sweeper);
  metrics::worker_stats stats(1, 1);

  tcp::acceptor backend(io, {net::ip::make_address("127.0.0.1"), 0});
  tcp::acceptor front(io, {net::ip::make_address("127.0.0.1"), 0});
  upstream::target target;
  target.name = "fake";
  target.host = "127.0.0.1";
  target.port = std::to_string(backend.local_endpoint().port());
  target.host_header = "127.0.0.1";
  target.connect_timeout = target.first_byte_timeout = target.idle_timeout =
      std::chrono::seconds(5);

  relayed out;
  net::co_spawn(
      io,
      [&]() -> awaitable<void> {
        auto socket = co_await backend.async_accept(net::use_awaitable);
        std::string request;
        co_await net::async_read_until(socket, net::dynamic_buffer(request), "\r\n\r\n",
                                       net::use_awaitable);
        net::steady_timer pause(io);
        for (auto& piece : pieces) {
          co_await net::async_write(socket, net::buffer(piece), net::use_awaitable);
          pause.expires_after(std::chrono::milliseconds(5));
          co_await pause.async_wait(net::use_awaitable);
        }
      },
      net::detached);

  tcp::socket peer(io);
  net::co_spawn(
      io,
      [&]() -> awaitable<void> {
        co_await peer.async_connect(front.local_endpoint(), net::use_awaitable);
        char bytes[4096];
        for (;;) {
          auto [ec, n] = co_await peer.async_read_some(net::buffer(bytes), use_tuple);
          out.raw.append(bytes, n);
          if (ec) break;
        }
      },
      net::detached);

  net::co_spawn(
      io,
      [&]() -> awaitable<void> {
        auto client = co_await front.async_accept(net::use_awaitable);
        client.non_blocking(true);
        deadline client_deadline(sweeper, client);
        beast::flat_buffer buffer;
        auto watch = proxy::client_watch::create(client, buffer);
        std::string head = "GET /v1/x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        std::string response_head;
        out.result = co_await proxy::forward(client, client_deadline, *watch,
                                             {.head = head,
                                              .body = {},
                                              .head_request = false,
                                              .idempotent = true,
                                              .target = target,
                                              .backend_slot = 0,
                                              .client_keep_alive = true,
                                              .client_version = client_version,
                                              .response_head = response_head,
                                              .stats = stats,
                                              .stages = stages},
                                             pool);
        pool.clear(0);
        client.close();
      },
      net::detached);
  io.run_for(std::chrono::seconds(10));

  http::response_parser<http::string_body> parser;
  parser.eager(true);
  error_code ec;
  std::string_view rest = out.raw;
  while (!parser.is_done() && !rest.empty()) {
    auto used = parser.put(net::buffer(rest.data(), rest.size()), ec);
    rest.remove_prefix(used);
    if (ec == http::error::need_more) ec = {};
    if (ec || used == 0) break;
  }
  if (!ec && !parser.is_done()) parser.put_eof(ec);  // a body delimited by the close
  out.parsed = parser.is_done() && !ec;
  out.response = parser.release();
  return out;
}

// An SSE body cut into pieces that split an event, a line and a chunk's size line.
const std::vector<std::string> kChunkedSse = {
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    "f\r\ndata: {\"a\":1}\n\n\r\n"
    "11\r\ndata: {\"b\"",
    ":2}\n\nda\r\nb\r\nta: [DON",
    "E]\n\r\n1",
    "\r\n\n\r\n0\r\n\r\n",
};
const std::string kSsePayload = "data: {\"a\":1}\n\ndata: {\"b\":2}\n\ndata: [DONE]\n\n";

}  // namespace

TEST_CASE("with no stage, the upstream's chunked bytes reach the client as they came") {
  auto r = relay(kChunkedSse, {});
  REQUIRE(r.parsed);
  CHECK(r.result.complete);
  CHECK(r.response.body() == kSsePayload);
  std::string upstream_body;
  for (auto& piece : kChunkedSse) upstream_body += piece;
  upstream_body.erase(0, upstream_body.find("\r\n\r\n") + 4);
  CHECK(r.raw.substr(r.raw.find("\r\n\r\n") + 4) == upstream_body);
}

TEST_CASE("a stage that reads sees the body without framing, the framing is relayed unchanged") {
  recording_stage reader;
  auto r = relay(kChunkedSse, {&reader});
  REQUIRE(r.parsed);
  CHECK(reader.status == 200);
  CHECK(reader.data == kSsePayload);
  CHECK(reader.ends == 1);
  CHECK(reader.complete);
  CHECK(r.response.body() == kSsePayload);
  CHECK(r.raw.find("f\r\ndata: {\"a\":1}\n\n\r\n") != std::string::npos);
  CHECK(r.result.body_bytes == kSsePayload.size());
}

TEST_CASE("a stage that reads sees Content-Length and close-delimited bodies too") {
  for (bool close_delimited : {false, true}) {
    CAPTURE(close_delimited);
    std::string head = close_delimited ? "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
                                       : "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n";
    recording_stage reader;
    auto r = relay({head + "0123456", "789abcdef", "ghij"}, {&reader});
    REQUIRE(r.parsed);
    CHECK(r.result.complete);
    CHECK(reader.data == "0123456789abcdefghij");
    CHECK(reader.complete);
    CHECK(r.response.body() == "0123456789abcdefghij");
  }
}

TEST_CASE("a stage that rewrites the body under chunked framing: lengths change, lines held") {
  numbering_stage numbering;
  recording_stage reader;  // after the rewrite: sees what the client gets
  auto r = relay(kChunkedSse, {&numbering, &reader});
  REQUIRE(r.parsed);
  CHECK(r.result.complete);
  CHECK(r.response.chunked());
  std::string expected =
      "1: data: {\"a\":1}\n2: \n3: data: {\"b\":2}\n4: \n5: data: [DONE]\n6: \nend\n";
  CHECK(r.response.body() == expected);
  CHECK(reader.data == expected);
  CHECK(numbering.ends == 1);
  CHECK(numbering.complete);
  CHECK(reader.complete);
  CHECK(r.result.body_bytes == expected.size());
}

TEST_CASE("a rewritten Content-Length body goes chunked, without the upstream's length") {
  numbering_stage numbering;
  auto r = relay({"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nab\ncd", "\nef\ngh"}, {&numbering});
  REQUIRE(r.parsed);
  CHECK(r.response.chunked());
  CHECK(r.response.count(http::field::content_length) == 0);
  CHECK(r.response.body() == "1: ab\n2: cd\n3: ef\n4: gh\nend\n");
}

TEST_CASE("a rewritten close-delimited body keeps its last words (sent when the close is read)") {
  numbering_stage numbering;
  auto r = relay({"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nab\ncd", "\nef"}, {&numbering});
  REQUIRE(r.parsed);
  CHECK(r.result.complete);
  CHECK(r.response.chunked());
  CHECK(r.response.body() == "1: ab\n2: cd\n3: ef\nend\n");
}

TEST_CASE("a rewriting stage on an empty Content-Length body keeps the length framing") {
  numbering_stage numbering;
  auto r = relay({"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"}, {&numbering});
  REQUIRE(r.parsed);
  CHECK(r.response[http::field::content_length] == "0");
  CHECK(r.response.body().empty());
  CHECK(r.result.client_keep_alive);
}

TEST_CASE("a rewritten body to an HTTP/1.0 client ends with the connection") {
  numbering_stage numbering;
  auto r = relay(kChunkedSse, {&numbering}, 10);
  REQUIRE(r.parsed);
  CHECK_FALSE(r.response.chunked());
  CHECK(r.response.body().starts_with("1: data: {\"a\":1}\n"));
  CHECK(r.response.body().ends_with("end\n"));
  CHECK_FALSE(r.result.client_keep_alive);
}

TEST_CASE("a body the upstream cuts ends every stage incomplete, once") {
  numbering_stage numbering;
  recording_stage reader;
  auto r = relay({kChunkedSse[0], kChunkedSse[1]}, {&numbering, &reader});  // then the close
  CHECK(r.result.head_sent);
  CHECK_FALSE(r.result.complete);
  CHECK(numbering.ends == 1);
  CHECK_FALSE(numbering.complete);
  CHECK(reader.ends == 1);
  CHECK_FALSE(reader.complete);
  CHECK(reader.data == "1: data: {\"a\":1}\n2: \n3: data: {\"b\":2}\n4: \n");
}

TEST_CASE("a response without a body still starts and ends its stages") {
  numbering_stage numbering;
  recording_stage reader;
  auto r = relay({"HTTP/1.1 204 No Content\r\n\r\n"}, {&numbering, &reader});
  REQUIRE(r.parsed);
  CHECK(r.response.result_int() == 204);
  CHECK(r.response.body().empty());
  CHECK(reader.status == 204);
  CHECK(numbering.ends == 1);
  CHECK(reader.ends == 1);
  CHECK(reader.complete);
  CHECK(reader.data.empty());
}

TEST_CASE("a stage may read a small body before the head and put what it found in the head") {
  counting_stage counting;
  recording_stage reader;
  auto r = relay({"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n0123456", "789abcdef", "ghij"},
                 {&counting, &reader});
  REQUIRE(r.parsed);
  CHECK(r.response["x-counted"] == "20");
  CHECK(r.response.body() == "0123456789abcdefghij");
  CHECK(reader.data == "0123456789abcdefghij");  // read once, not twice
  CHECK(counting.ends == 1);
  CHECK(reader.ends == 1);
  CHECK(r.result.body_bytes == 20);
  // A chunked body is relayed as it comes: no field.
  counting_stage streaming;
  auto s = relay(kChunkedSse, {&streaming});
  REQUIRE(s.parsed);
  CHECK(s.response.count("x-counted") == 0);
}
