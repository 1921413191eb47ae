#include "aigw/server/session.hpp"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "aigw/core/log.hpp"
#include "aigw/json/model_extractor.hpp"
#include "aigw/proxy/endpoints.hpp"
#include "aigw/proxy/exchange.hpp"
#include "aigw/proxy/header_policy.hpp"

namespace aigw::server {
namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
using clock = std::chrono::steady_clock;
using request_parser = http::request_parser<http::string_body>;

// The header a client may use to name the model when the body has none (Envoy AI Gateway's).
constexpr std::string_view kModelHeader = "x-ai-eg-model";

// What the access log says about one request.
struct request_log {
  clock::time_point start = clock::now();
  std::string_view method;
  std::string_view path;
  std::string model;
  int route = -1;
  std::string_view backend = "-";
  unsigned status = 0;
  std::uint64_t bytes = 0;
  clock::time_point first_byte{};
};

double ms_since(clock::time_point start, clock::time_point end) {
  return std::chrono::duration<double, std::milli>(end - start).count();
}

// A client-chosen value made safe for one log line: no spaces, quotes or control bytes (no
// forged lines), at most 128 bytes.
std::string_view log_safe(std::string_view value, std::string& scratch) {
  if (value.empty()) return "-";
  bool clean = value.size() <= 128 && std::all_of(value.begin(), value.end(), [](char c) {
                 return c > ' ' && c != '"' && c != 0x7f;
               });
  if (clean) return value;
  scratch.assign(value.substr(0, 128));
  for (auto& c : scratch)
    if (c <= ' ' || c == '"' || c == 0x7f) c = '?';
  return scratch;
}

void write_access_log(const request_log& r) {
  auto end = clock::now();
  auto ttfb = r.first_byte == clock::time_point{} ? 0.0 : ms_since(r.start, r.first_byte);
  std::string method_scratch, path_scratch, model_scratch;
  fmt::memory_buffer line;
  fmt::format_to(std::back_inserter(line),
                 "access method={} path={} model={} route={} backend={} status={} bytes={} "
                 "ttfb_ms={:.2f} duration_ms={:.2f}",
                 log_safe(r.method, method_scratch), log_safe(r.path, path_scratch),
                 log_safe(r.model, model_scratch), r.route, r.backend, r.status, r.bytes, ttfb,
                 ms_since(r.start, end));
  log::write_line({line.data(), line.size()});
}

// Bodies are taken as JSON unless they are declared as something else that an OpenAI
// endpoint accepts (multipart uploads, raw audio or images). `curl -d` labels JSON as
// application/x-www-form-urlencoded, so that label cannot mean "not JSON".
bool is_json_body(const http::fields& headers) {
  auto it = headers.find(http::field::content_type);
  if (it == headers.end()) return true;
  auto type = it->value();
  for (beast::string_view other : {"multipart/", "application/octet-stream", "audio/", "image/"})
    if (type.size() >= other.size() && beast::iequals(type.substr(0, other.size()), other))
      return false;
  return true;
}

errc read_error(error_code ec, bool timed_out) {
  if (timed_out) return errc::request_timeout;
  if (ec == http::error::header_limit) return errc::headers_too_large;
  if (ec == http::error::bad_content_length || ec == http::error::multiple_content_length ||
      ec == http::error::bad_transfer_encoding || ec == http::error::bad_chunk ||
      ec == http::error::bad_chunk_extension)
    return errc::bad_framing;
  if (ec == http::error::body_limit) return errc::body_too_large;
  return errc::bad_request;
}

bool is_disconnect(error_code ec) {
  return ec == http::error::end_of_stream || ec == http::error::partial_message ||
         ec == net::error::eof || ec == net::error::connection_reset ||
         ec == net::error::broken_pipe || ec == net::error::operation_aborted;
}

class session {
 public:
  session(tcp::socket socket, std::shared_ptr<const proxy::snapshot> config,
          upstream::connection_pool& pool, deadline_sweeper& sweeper, process_budget& budget)
      : client_(std::move(socket)),
        deadline_(sweeper, client_),
        watch_(proxy::client_watch::create(client_, buffer_)),
        config_(std::move(config)),
        pool_(pool),
        budget_(budget) {}

  awaitable<void> run() {
    error_code ignored;
    client_.set_option(tcp::no_delay(true), ignored);
    buffer_.max_size(config_->config.limits.max_request_headers + kReadAhead);
    while (co_await serve_one()) {
    }
    if (abort_on_close_)
      client_.set_option(net::socket_base::linger(true, 0), ignored);
    else
      client_.shutdown(tcp::socket::shutdown_send, ignored);
    client_.close(ignored);
  }

 private:
  // Serves one request; returns whether the connection stays open for another.
  awaitable<bool> serve_one() {
    const auto& cfg = config_->config;
    request_parser parser;
    parser.header_limit(cfg.limits.max_request_headers);
    parser.body_limit(cfg.limits.max_request_body);

    deadline_.expires_after(cfg.timeouts.client_header);
    auto [ec, n] = co_await http::async_read_header(client_, buffer_, parser, use_tuple);
    if (ec) {
      // A keep-alive connection closed or idle between requests ends quietly.
      bool nothing_received = buffer_.size() == 0 && !parser.got_some();
      bool timed_out = deadline_.fired();
      if (timed_out ? nothing_received : is_disconnect(ec)) co_return false;
      request_log log;
      log_request_line(parser.get(), log);  // when the request line was read before the error
      co_return co_await finish_with_error(log, read_error(ec, timed_out), 11, false);
    }

    request_log log;
    auto& request = parser.get();
    log_request_line(request, log);
    auto target = request.target();
    auto query_at = target.find('?');
    unsigned version = request.version();
    head_request_ = request.method() == http::verb::head;

    // Framing the gateway will not guess at (RFC 9112 sections 3.2 and 6.1): a transfer
    // coding other than plain chunked, any transfer coding from an HTTP/1.0 client, and an
    // HTTP/1.1 request without exactly one Host.
    if (auto it = request.find(http::field::transfer_encoding);
        it != request.end() &&
        (version < 11 || !proxy::is_acceptable_transfer_encoding(it->value())))
      co_return co_await finish_with_error(log, errc::bad_framing, version, false);
    if (version == 11 && request.count(http::field::host) != 1)
      co_return co_await finish_with_error(log, errc::bad_request, version, false,
                                           "an HTTP/1.1 request needs exactly one Host header");
    // A fragment is never sent in a request target (RFC 9112 3.2); Beast lets '#' through.
    if (target.find('#') != beast::string_view::npos)
      co_return co_await finish_with_error(log, errc::bad_request, version, false,
                                           "the request target has a fragment ('#')");
    auto declared_length = parser.content_length();
    if (declared_length && *declared_length > cfg.limits.max_request_body)
      co_return co_await finish_with_error(log, errc::body_too_large, version, false);
    // The body counts against the process's budget from here until the request ends: a
    // declared length in full, before anything is read or 100-continue is promised.
    body_reservation reserved(budget_);
    if (declared_length && !reserved.grow_to(*declared_length))
      co_return co_await finish_with_error(log, errc::overloaded, version, false);

    if (version == 11 && beast::iequals(request[http::field::expect], "100-continue")) {
      http::response<http::empty_body> go_on{http::status::continue_, 11};
      auto [cec, cn] = co_await http::async_write(client_, go_on, use_tuple);
      if (cec) co_return false;
    }

    auto fields_in_head = std::distance(request.begin(), request.end());
    auto& body = request.body();
    while (!parser.is_done()) {
      // Memory follows the bytes that arrived, never a declared length alone: a client that
      // declares 32 MiB and sends a little makes the gateway hold a little.
      if (declared_length) grow_body_buffer(body, *declared_length);
      // `idle` is the longest pause between two reads: a slow upload that keeps sending is
      // not cut, a stalled one is.
      deadline_.expires_after(cfg.timeouts.idle);
      auto [bec, bn] = co_await http::async_read_some(client_, buffer_, parser, use_tuple);
      if (bec) {
        bool timed_out = deadline_.fired();
        if (!timed_out && is_disconnect(bec)) co_return false;
        co_return co_await finish_with_error(log, read_error(bec, timed_out), version, false);
      }
      if (!reserved.grow_to(body.capacity()))  // a chunked body, as it grows
        co_return co_await finish_with_error(log, errc::overloaded, version, false);
    }
    // Beast adds a chunked body's trailer fields to the head; they would be routed on and
    // forwarded as headers that no front proxy ever saw. No OpenAI client sends trailers.
    if (std::distance(request.begin(), request.end()) != fields_in_head)
      co_return co_await finish_with_error(log, errc::bad_framing, version, false,
                                           "trailer fields are not accepted");
    deadline_.expires_never();
    bool keep_alive = request.keep_alive();

    auto endpoint = proxy::classify(log.path);
    switch (endpoint.kind) {
      case proxy::endpoint_kind::unknown:
        co_return co_await finish_with_error(log, errc::not_found, version, keep_alive,
                                             fmt::format("{} {}", log.method, log.path));
      case proxy::endpoint_kind::health:
        co_return co_await finish_local(log, http::status::ok, R"({"status":"ok"})", version,
                                        keep_alive);
      case proxy::endpoint_kind::list_models:
        co_return co_await finish_local(log, http::status::ok, config_->models_json, version,
                                        keep_alive);
      case proxy::endpoint_kind::retrieve_model: {
        auto id = endpoint.rest.substr(std::string_view("/models/").size());
        if (auto body = config_->model_json(id))
          co_return co_await finish_local(log, http::status::ok, *body, version, keep_alive);
        co_return co_await finish_with_error(log, errc::model_not_found, version, keep_alive,
                                             fmt::format("\"{}\"", id));
      }
      case proxy::endpoint_kind::routed:
        break;
    }

    bool needs_model = endpoint.needs_model && request.method() == http::verb::post;
    json::request_fields fields;
    if (!request.body().empty() && is_json_body(request)) {
      if (auto e = json::extract_request_fields(request.body(), fields); e != errc::ok)
        co_return co_await finish_with_error(log, e, version, keep_alive);
    } else if (needs_model && is_json_body(request)) {
      co_return co_await finish_with_error(log, errc::invalid_json, version, keep_alive,
                                           "the body is empty");
    }
    log.model = fields.has_model ? std::move(fields.model) : std::string(request[kModelHeader]);
    if (needs_model && log.model.empty())
      co_return co_await finish_with_error(log, errc::missing_model, version, keep_alive);

    auto route = config_->routes.match({log.model, request.base()});
    const auto& upstream_target = config_->targets[route.backend_index];
    std::string upstream_model;
    if (fields.has_model) upstream_model = config_->routes.upstream_model(route, log.model);
    if (!upstream_model.empty()) json::replace_model(request.body(), fields, upstream_model);
    log.route = static_cast<int>(route.route_index);
    log.backend = upstream_target.name;

    auto query =
        query_at == beast::string_view::npos ? beast::string_view{} : target.substr(query_at);
    auto method = request.method_string();
    auto head_error = proxy::write_upstream_request_head(
        {{method.data(), method.size()},
         {endpoint.rest.data(), endpoint.rest.size()},
         {query.data(), query.size()},
         upstream_model.empty() ? log.model : upstream_model},
        request.base(), upstream_target, request.body().size(), upstream_head_);
    if (head_error != errc::ok) {
      // Built before the co_await: GCC 12 destroys temporaries of a conditional expression
      // inside a co_await twice.
      std::string detail =
          head_error == errc::unsafe_model_name
              ? fmt::format(
                    "\"{}\" is not a deployment name of backend \"{}\" (allowed: letters, "
                    "digits and . _ ~ : -)",
                    upstream_model.empty() ? log.model : upstream_model, upstream_target.name)
              : std::string("the upstream request target would carry a space, '#', CR, LF or NUL");
      co_return co_await finish_with_error(log, head_error, version, keep_alive, detail);
    }

    auto result = co_await proxy::forward(client_, deadline_, *watch_,
                                          {.head = upstream_head_,
                                           .body = request.body(),
                                           .head_request = request.method() == http::verb::head,
                                           .idempotent = is_idempotent(request.method()),
                                           .target = upstream_target,
                                           .backend_index = route.backend_index,
                                           .client_keep_alive = keep_alive,
                                           .client_version = version,
                                           .response_head = response_head_},
                                          pool_);
    log.first_byte = result.first_byte;
    if (!result.head_sent) {
      if (result.client_gone) {
        log.status = 499;  // nginx's "client closed request": no response was sent
        finish_log(log);
        co_return false;
      }
      co_return co_await finish_with_error(log, result.error, version, keep_alive,
                                           fmt::format("backend \"{}\"", upstream_target.name));
    }
    log.status = result.status;
    log.bytes = result.body_bytes;
    finish_log(log);
    // After the head was sent, an incomplete body can only be signalled by closing, and
    // with a reset: a FIN would look like a clean end to a client reading to EOF.
    if (!result.complete) abort_on_close_ = true;
    co_return result.complete&& result.client_keep_alive;
  }

  awaitable<bool> finish_local(request_log& log, http::status status, std::string body,
                               unsigned version, bool keep_alive) {
    http::response<http::string_body> response{status, version};
    response.set(http::field::content_type, "application/json");
    response.body() = std::move(body);
    response.keep_alive(keep_alive);
    response.prepare_payload();
    log.status = response.result_int();
    log.bytes = head_request_ ? 0 : response.body().size();
    deadline_.expires_after(config_->config.timeouts.idle);
    auto ec = co_await write_local(response);
    deadline_.expires_never();
    finish_log(log);
    co_return !ec && keep_alive;
  }

  awaitable<bool> finish_with_error(request_log& log, errc e, unsigned version, bool keep_alive,
                                    std::string_view detail = {}) {
    keep_alive = keep_alive && !closes_connection(e);
    co_await reply_error(e, version, keep_alive, detail);
    log.status = static_cast<unsigned>(http_status(e));
    finish_log(log);
    co_return keep_alive;
  }

  awaitable<void> reply_error(errc e, unsigned version, bool keep_alive,
                              std::string_view detail = {}) {
    http::response<http::string_body> response{http_status(e), version};
    response.set(http::field::content_type, "application/json");
    response.set("proxy-status", fmt::format("aigw-proxy; error={}", proxy_status_token(e)));
    if (response.result() == http::status::service_unavailable)
      response.set(http::field::retry_after, "1");
    response.body() = render_error_json(e, detail);
    response.keep_alive(keep_alive);
    response.prepare_payload();
    deadline_.expires_after(config_->config.timeouts.client_header);
    co_await write_local(response);
    if (!keep_alive) co_await linger();
  }

  // A reply of the gateway's own; to a HEAD request, without its body (Content-Length kept).
  awaitable<error_code> write_local(http::response<http::string_body>& response) {
    http::response_serializer<http::string_body> serializer{response};
    auto [ec, n] = head_request_ ? co_await http::async_write_header(client_, serializer, use_tuple)
                                 : co_await http::async_write(client_, serializer, use_tuple);
    co_return ec;
  }

  // Before closing on an error, let the client finish sending (up to a bound) so that the
  // close does not turn into a reset that destroys the error response on its way.
  awaitable<void> linger() {
    error_code ignored;
    client_.shutdown(tcp::socket::shutdown_send, ignored);
    deadline_.expires_after(std::chrono::seconds(2));
    std::array<char, 4096> sink;
    std::size_t drained = 0;
    while (drained < (1u << 20)) {
      auto [ec, n] = co_await client_.async_read_some(net::buffer(sink), use_tuple);
      if (ec) break;
      drained += n;
    }
  }

  // What the access log says of the request line, as far as it was read.
  static void log_request_line(const http::request<http::string_body>& request, request_log& log) {
    auto method = request.method_string();
    auto target = request.target();
    log.method = method.empty() ? "-" : std::string_view(method.data(), method.size());
    auto path = target.substr(0, target.find('?'));
    log.path = path.empty() ? "-" : std::string_view(path.data(), path.size());
  }

  // Grows a body with a declared length in steps (64 KiB, then doubling), never past the
  // declared length plus the JSON scanner's padding.
  static void grow_body_buffer(std::string& body, std::uint64_t declared) {
    auto full = declared + json::parse_padding;
    if (body.capacity() >= full || body.capacity() - body.size() >= kBodyStep) return;
    // Into a new string: reserve() on a non-empty one rounds up to twice its capacity,
    // past the declared length (and the budget charged for it).
    std::string bigger;
    bigger.reserve(std::min<std::uint64_t>(full, std::max(2 * body.capacity(), kBodyStep)));
    bigger.append(body);
    body.swap(bigger);
  }

  static bool is_idempotent(http::verb method) {
    return method == http::verb::get || method == http::verb::head || method == http::verb::options;
  }

  void finish_log(const request_log& log) {
    if (config_->config.access_log) write_access_log(log);
  }

  // Read-ahead allowed past the header limit; bounds what a peer can make the buffer hold
  // (Beast bounds neither a chunk-size line nor trailers).
  static constexpr std::size_t kReadAhead = 64 * 1024;
  // The first block of a request body, and the least it grows by.
  static constexpr std::size_t kBodyStep = 64 * 1024;

  tcp::socket client_;
  deadline deadline_;
  beast::flat_buffer buffer_;
  bool head_request_ = false;    // the current request is a HEAD
  bool abort_on_close_ = false;  // a response was cut short: close with a reset
  // Message heads the gateway writes, reused from request to request (no allocation once
  // they have grown to the largest head seen).
  std::string upstream_head_;
  std::string response_head_;
  std::shared_ptr<proxy::client_watch> watch_;
  std::shared_ptr<const proxy::snapshot> config_;
  upstream::connection_pool& pool_;
  process_budget& budget_;
};

}  // namespace

awaitable<void> run_session(tcp::socket socket, std::shared_ptr<const proxy::snapshot> config,
                            upstream::connection_pool& pool, deadline_sweeper& sweeper,
                            process_budget& budget) {
  session s(std::move(socket), std::move(config), pool, sweeper, budget);
  co_await s.run();
}

}  // namespace aigw::server
