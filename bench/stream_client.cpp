// A streaming load client for benchmarks: runs N SSE chat completions, C at a time (each of
// the C workers keeps one connection alive), and measures per stream the time to the first
// body byte and to the end. Prints `all-open` on stderr when C == N streams are open at once
// and every one has received its first byte, and one JSON line of results on stdout.
#include <sys/resource.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/program_options.hpp>
#include <boost/url/parse.hpp>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <vector>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

namespace {

struct run_state {
  tcp::endpoint endpoint;
  std::string host;
  std::string target;
  unsigned chunks = 20;
  unsigned delay_ms = 0;
  unsigned streams = 1;
  unsigned concurrency = 1;
  unsigned next = 0;
  unsigned completed = 0;
  unsigned failed = 0;
  unsigned open_with_first_byte = 0;
  bool announced = false;
  std::vector<double> ttfb_us;
  std::vector<double> total_us;
};

double micros(clock_type::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

enum class outcome { failed, done_keep_alive, done_close };

// One stream on `socket`.
net::awaitable<outcome> one_stream(tcp::socket& socket, beast::flat_buffer& buffer, run_state& s) {
  http::request<http::string_body> req{http::verb::post, s.target, 11};
  req.set(http::field::host, s.host);
  req.set(http::field::content_type, "application/json");
  req.set(http::field::authorization, "Bearer sk-bench");
  req.set("x-fake-chunks", std::to_string(s.chunks));
  req.set("x-fake-delay-ms", std::to_string(s.delay_ms));
  req.body() = R"({"model":"bench","stream":true,"messages":[{"role":"user","content":"hi"}]})";
  req.prepare_payload();

  auto start = clock_type::now();
  auto [wec, wn] = co_await http::async_write(socket, req, use_tuple);
  if (wec) co_return outcome::failed;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  auto [hec, hn] = co_await http::async_read_header(socket, buffer, parser, use_tuple);
  if (hec || parser.get().result() != http::status::ok) co_return outcome::failed;
  char sink[16384];
  bool first = true;
  while (!parser.is_done()) {
    parser.get().body().data = sink;
    parser.get().body().size = sizeof sink;
    auto [rec, rn] = co_await http::async_read_some(socket, buffer, parser, use_tuple);
    if (rec && rec != http::error::need_buffer) {
      if (!first) --s.open_with_first_byte;
      co_return outcome::failed;
    }
    if (first && parser.get().body().size != sizeof sink) {
      first = false;
      s.ttfb_us.push_back(micros(clock_type::now() - start));
      if (++s.open_with_first_byte == s.streams && s.concurrency == s.streams && !s.announced) {
        s.announced = true;
        std::cerr << "all-open" << std::endl;
      }
    }
  }
  --s.open_with_first_byte;
  s.total_us.push_back(micros(clock_type::now() - start));
  ++s.completed;
  co_return parser.keep_alive() ? outcome::done_keep_alive : outcome::done_close;
}

net::awaitable<void> worker(run_state& s) {
  auto executor = co_await net::this_coro::executor;
  std::optional<tcp::socket> socket;
  beast::flat_buffer buffer;
  while (s.next < s.streams) {
    ++s.next;
    if (!socket) {
      socket.emplace(executor);
      auto [cec] = co_await socket->async_connect(s.endpoint, use_tuple);
      if (cec) {
        ++s.failed;
        socket.reset();
        continue;
      }
      socket->set_option(tcp::no_delay(true));
      buffer.clear();
    }
    auto result = co_await one_stream(*socket, buffer, s);
    if (result == outcome::failed) ++s.failed;
    if (result != outcome::done_keep_alive) socket.reset();
  }
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  namespace po = boost::program_options;
  run_state s;
  std::string url;
  po::options_description options("stream_client");
  options.add_options()("url", po::value(&url)->required(),
                        "http://127.0.0.1:PORT/v1/chat/completions")(
      "streams", po::value(&s.streams), "streams in all")("concurrency", po::value(&s.concurrency),
                                                          "streams at once")(
      "chunks", po::value(&s.chunks), "SSE chunks per stream")("delay-ms", po::value(&s.delay_ms),
                                                               "delay between chunks");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, options), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << e.what() << "\n" << options << "\n";
    return 2;
  }
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) {
    std::cerr << "bad --url\n";
    return 2;
  }
  s.host = parsed->encoded_host_and_port();
  s.target = parsed->encoded_path();
  s.endpoint = tcp::endpoint(net::ip::make_address(std::string(parsed->host())),
                             static_cast<unsigned short>(parsed->port_number()));
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  s.ttfb_us.reserve(s.streams);
  s.total_us.reserve(s.streams);
  net::io_context io(1);
  for (unsigned i = 0; i < std::min(s.concurrency, s.streams); ++i)
    net::co_spawn(io, worker(s), net::detached);
  io.run();
  std::cout << std::fixed << std::setprecision(1) << "{\"completed\":" << s.completed
            << ",\"failed\":" << s.failed << ",\"ttfb_us\":{\"p50\":" << percentile(s.ttfb_us, 0.5)
            << ",\"p99\":" << percentile(s.ttfb_us, 0.99)
            << "},\"total_us\":{\"p50\":" << percentile(s.total_us, 0.5)
            << ",\"p99\":" << percentile(s.total_us, 0.99) << "}}" << std::endl;
  return s.failed == 0 ? 0 : 1;
}
