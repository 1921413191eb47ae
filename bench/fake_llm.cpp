// A fast fake LLM upstream for benchmarks: answers POST /v1/chat/completions with a small
// fixed completion, or with "stream": true, N SSE chunks then [DONE]; POST /v1/messages as
// Anthropic's Messages API does (a message, or a stream of N text deltas between its start
// and stop events), for the cost of translation. Steered by request headers x-fake-chunks
// (default 20) and x-fake-delay-ms (default 0). One io_context per
// thread with SO_REUSEPORT acceptors, so it is never the bottleneck of the rig.
#include <sys/resource.h>
#include <sys/socket.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/program_options.hpp>
#include <charconv>
#include <iostream>
#include <thread>
#include <vector>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

namespace {

constexpr std::string_view kCompletion =
    R"({"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench",)"
    R"("choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the bench."},)"
    R"("finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":5,"total_tokens":14}})";
constexpr std::string_view kChunk =
    "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
    "\"model\":\"bench\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"tok\"},"
    "\"finish_reason\":null}]}\n\n";
// The last chunk carries the usage, as Ollama's does (and OpenAI's with include_usage), so
// usage accounting has its one parse per stream to do.
constexpr std::string_view kLastChunk =
    "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
    "\"model\":\"bench\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":20,\"total_tokens\":29}}\n\n";
constexpr std::string_view kDone = "data: [DONE]\n\n";

// Anthropic's shapes (POST /v1/messages).
constexpr std::string_view kMessage =
    R"({"id":"msg_bench","type":"message","role":"assistant","model":"bench","content":)"
    R"([{"type":"text","text":"Hello from the bench."}],"stop_reason":"end_turn",)"
    R"("stop_sequence":null,"usage":{"input_tokens":9,"output_tokens":5}})";
constexpr std::string_view kMessageStart =
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_bench\","
    "\"type\":\"message\",\"role\":\"assistant\",\"model\":\"bench\",\"content\":[],"
    "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":9,"
    "\"output_tokens\":1}}}\n\n"
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
    "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n";
constexpr std::string_view kMessageDelta =
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
    "\"delta\":{\"type\":\"text_delta\",\"text\":\"tok\"}}\n\n";
constexpr std::string_view kMessageEnd =
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
    "\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":20}}\n\n"
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

unsigned header_number(const http::fields& h, std::string_view name, unsigned fallback) {
  auto it = h.find(name);
  if (it == h.end()) return fallback;
  unsigned v = fallback;
  std::from_chars(it->value().data(), it->value().data() + it->value().size(), v);
  return v;
}

bool wants_stream(const std::string& body) {
  auto at = body.find("\"stream\"");
  if (at == std::string::npos) return false;
  auto colon = body.find(':', at);
  auto value = body.find_first_not_of(" \t\r\n", colon + 1);
  return value != std::string::npos && body.compare(value, 4, "true") == 0;
}

net::awaitable<void> serve(tcp::socket socket) {
  socket.set_option(tcp::no_delay(true));
  beast::flat_buffer buffer;
  for (;;) {
    http::request<http::string_body> req;
    auto [ec, n] = co_await http::async_read(socket, buffer, req, use_tuple);
    if (ec) co_return;
    bool anthropic = req.target().ends_with("/messages");
    if (!wants_stream(req.body())) {
      http::response<http::string_body> res{http::status::ok, 11};
      res.set(http::field::content_type, "application/json");
      res.body() = anthropic ? kMessage : kCompletion;
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      auto [wec, wn] = co_await http::async_write(socket, res, use_tuple);
      if (wec || !req.keep_alive()) co_return;
      continue;
    }
    unsigned chunks = header_number(req, "x-fake-chunks", 20);
    unsigned delay_ms = header_number(req, "x-fake-delay-ms", 0);
    http::response<http::empty_body> res{http::status::ok, 11};
    res.set(http::field::content_type, "text/event-stream");
    res.set(http::field::cache_control, "no-cache");
    res.chunked(true);
    res.keep_alive(req.keep_alive());
    http::response_serializer<http::empty_body> sr{res};
    auto [hec, hn] = co_await http::async_write_header(socket, sr, use_tuple);
    if (hec) co_return;
    net::steady_timer timer(socket.get_executor());
    if (anthropic) {
      auto [sec, sn] = co_await net::async_write(
          socket, http::make_chunk(net::buffer(kMessageStart)), use_tuple);
      if (sec) co_return;
    }
    for (unsigned i = 0; i < chunks; ++i) {
      if (delay_ms && i > 0) {
        timer.expires_after(std::chrono::milliseconds(delay_ms));
        co_await timer.async_wait(use_tuple);
      }
      auto chunk = anthropic ? kMessageDelta : i + 1 == chunks ? kLastChunk : kChunk;
      auto [cec, cn] =
          co_await net::async_write(socket, http::make_chunk(net::buffer(chunk)), use_tuple);
      if (cec) co_return;
    }
    auto [dec, dn] = co_await net::async_write(
        socket, http::make_chunk(net::buffer(anthropic ? kMessageEnd : kDone)), use_tuple);
    if (dec) co_return;
    auto [lec, ln] = co_await net::async_write(socket, http::make_chunk_last(), use_tuple);
    if (lec || !req.keep_alive()) co_return;
  }
}

net::awaitable<void> accept_loop(tcp::acceptor& acceptor) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (ec) continue;
    net::co_spawn(acceptor.get_executor(), serve(std::move(socket)), net::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  namespace po = boost::program_options;
  unsigned short port = 0;
  unsigned threads = 1;
  po::options_description options("fake_llm");
  options.add_options()("port", po::value(&port), "port (0: any)")("threads", po::value(&threads),
                                                                   "threads");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, options), vm);
  po::notify(vm);

  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  std::vector<std::unique_ptr<net::io_context>> contexts;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), port);
  for (unsigned i = 0; i < std::max(1u, threads); ++i) {
    contexts.push_back(std::make_unique<net::io_context>(1));
    auto acceptor = std::make_unique<tcp::acceptor>(*contexts.back());
    acceptor->open(endpoint.protocol());
    acceptor->set_option(net::socket_base::reuse_address(true));
    acceptor->set_option(net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true));
    acceptor->bind(endpoint);
    acceptor->listen(net::socket_base::max_listen_connections);
    endpoint = acceptor->local_endpoint();
    net::co_spawn(*contexts.back(), accept_loop(*acceptor), net::detached);
    acceptors.push_back(std::move(acceptor));
  }
  std::cerr << "listening on 127.0.0.1:" << endpoint.port() << std::endl;
  std::vector<std::thread> pool;
  for (size_t i = 1; i < contexts.size(); ++i) pool.emplace_back([&, i] { contexts[i]->run(); });
  contexts[0]->run();
  for (auto& t : pool) t.join();
}
