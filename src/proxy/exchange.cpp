#include "aigw/proxy/exchange.hpp"

#include <array>
#include <cstring>
#include <optional>

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/container/static_vector.hpp>

#include "aigw/proxy/header_policy.hpp"
#include "aigw/upstream/backend_health.hpp"
#include "chunked_scanner.hpp"

namespace aigw::proxy {
namespace {

using namespace boost::asio::experimental::awaitable_operators;

// Bytes read from a backend at a time. The connection's buffer holds them for every open
// stream, so it is small: one SSE event is far smaller still, and larger bodies simply take
// a few more reads.
constexpr std::size_t kRelayReadSize = 4096;
// The largest response head accepted from a backend.
constexpr std::uint32_t kMaxResponseHead = 64 * 1024;
// Interim (1xx) heads read past before the answer: more is a backend flooding the gateway
// with heads it never has to finish (each would be parsed until first_byte ran out).
constexpr unsigned kMaxInterimHeads = 16;
// How soon after a request left a close without an answer still means the backend had
// closed the connection before the request reached it (see may_resend_after_close).
constexpr auto kStaleGrace = std::chrono::milliseconds(2);
// Bytes of a streamed request body read from the client at a time.
constexpr std::size_t kStreamReadSize = 16 * 1024;

class exchange {
 public:
  exchange(tcp::socket& client, deadline& client_deadline, client_watch& watch,
           exchange_request request, upstream::connection_pool& pool, exchange_result& result)
      : client_(client),
        client_deadline_(client_deadline),
        watch_(watch),
        request_(request),
        pool_(pool),
        result_(result) {}

  awaitable<void> run() {
    // A pooled connection may have been closed by the backend while idle; a failure before
    // any response byte on such a connection is retried once on a fresh one (its idle
    // siblings are likely just as stale, so they go too).
    for (int attempt = 0; attempt < 2; ++attempt) {
      // A streamed body cannot be sent twice: it gets a fresh connection, which no stale
      // keep-alive can have closed.
      auto connection = attempt == 0 && request_.streamed_body_length == 0
                            ? pool_.take(request_.backend_slot)
                            : nullptr;
      if (!connection) {
        connection = pool_.create(client_.get_executor(), request_.target, request_.backend_slot);
        watch_.guard(&connection->socket());
        auto ec = co_await connection->connect(request_.target);
        ++(ec ? request_.stats.upstream_connect_failures
              : request_.stats.upstream_connects)[request_.backend_slot];
        if (ec || watch_.gone()) {
          watch_.guard(nullptr);  // the connection dies with this scope
          result_.error = errc::upstream_unreachable;
          co_return;
        }
      }
      watch_.guard(&connection->socket());
      auto outcome = co_await connection->visit(
          [&](auto& stream) { return exchange_over(stream, *connection); });
      watch_.guard(nullptr);
      if (outcome == attempt_outcome::retry && attempt == 0 && !watch_.gone()) {
        pool_.clear(request_.backend_slot);
        continue;
      }
      if (outcome == attempt_outcome::reusable)
        pool_.put(request_.backend_slot, std::move(connection));
      co_return;
    }
  }

 private:
  enum class attempt_outcome { done, reusable, retry };

  template <class Stream>
  awaitable<attempt_outcome> exchange_over(Stream& upstream, upstream::connection& connection) {
    auto& target = request_.target;
    auto& deadline = connection.deadline();
    bool reused = connection.reused;

    if (watch_.gone()) co_return attempt_outcome::done;
    deadline.expires_after(target.first_byte_timeout);
    std::array<net::const_buffer, 2> message{net::buffer(request_.head),
                                             net::buffer(request_.body)};
    auto [wec, written] = co_await net::async_write(upstream, message, use_tuple);
    // A write that failed never delivered the whole request: the backend cannot have acted
    // on it, so another connection may carry it.
    if (wec) co_return fail_before_head(deadline, reused && is_connection_lost(wec));
    if (request_.streamed_body_length > 0) {
      auto sent = co_await stream_request_body(upstream, deadline);
      if (!sent) co_return attempt_outcome::done;  // the client stalled or left: nothing to relay
      deadline.expires_after(target.first_byte_timeout);
      watch_.arm();  // the client's bytes are all read: from now on, only its leaving counts
    }
    auto written_at = std::chrono::steady_clock::now();

    // Interim 1xx heads (103 Early Hints, a stray 100) are not the answer: skip them.
    std::optional<http::response_parser<http::buffer_body>> parser;
    for (unsigned interim = 0;; ++interim) {
      if (interim > kMaxInterimHeads) {
        result_.error = errc::upstream_broken;
        co_return attempt_outcome::done;
      }
      parser.emplace();
      parser->header_limit(kMaxResponseHead);
      parser->body_limit(boost::none);  // responses are relayed, never held
      if (request_.head_request) parser->skip(true);
      if (watch_.gone()) co_return attempt_outcome::done;
      auto [hec, head_bytes] =
          co_await http::async_read_header(upstream, connection.buffer(), *parser, use_tuple);
      if (hec && add_missing_reason_phrase(connection.buffer())) continue;  // parse it again
      if (hec) {
        bool nothing_received = !parser->got_some() && connection.buffer().size() == 0;
        co_return fail_before_head(
            deadline, reused && nothing_received && is_connection_lost(hec) &&
                          may_resend_after_close(std::chrono::steady_clock::now() - written_at));
      }
      auto status = parser->get().result_int();
      if (status == 101 && request_.websocket &&
          beast::iequals(parser->get()[http::field::upgrade], "websocket")) {
        result_.first_byte = std::chrono::steady_clock::now();
        co_await tunnel(upstream, connection, parser->get());
        co_return attempt_outcome::done;  // a connection that switched protocols is spent
      }
      if (status >= 100 && status < 200 && status != 101) continue;
      // A status outside 100-599 is no HTTP status a client can act on; a protocol switch
      // that was not asked for (or not to WebSocket) is refused; a transfer coding other than
      // chunked (gzip, chunked) would be dropped silently by the re-framing below. None of these is
      // relayed, and the connection is not kept (nginx refuses them too).
      if (status < 100 || status > 599 || status == 101 || !is_plain_chunked(parser->get())) {
        result_.error = errc::upstream_broken;
        co_return attempt_outcome::done;
      }
      break;
    }
    result_.first_byte = std::chrono::steady_clock::now();
    auto status = parser->get().result_int();
    if (status == 429) result_.backoff = upstream::backoff_from(parser->get());
    auto type = parser->get()[http::field::content_type];
    bool not_a_continuation =
        request_.continuation && (status != 200 || parser->is_done() ||
                                  !is_media_type({type.data(), type.size()}, "text/event-stream"));
    if ((status >= 500 && request_.hold_5xx) || (status == 429 && request_.hold_429) ||
        not_a_continuation)
      co_return co_await hold_answer(upstream, connection, *parser);

    bool relayed = co_await relay(upstream, connection, *parser);
    deadline.expires_never();
    if (relayed && parser->keep_alive() && connection.buffer().size() == 0)
      co_return attempt_outcome::reusable;
    co_return attempt_outcome::done;
  }

  // Reads an answer the attempt loop may replace, instead of relaying it: its head, and its
  // body up to kHeldBodyLimit (each read under `idle`). The connection is kept when the
  // whole answer was read.
  template <class Stream>
  awaitable<attempt_outcome> hold_answer(Stream& upstream, upstream::connection& connection,
                                         http::response_parser<http::buffer_body>& parser) {
    result_.held = true;
    result_.status = parser.get().result_int();
    keep_request_id(parser.get());
    result_.answer = std::make_unique<held_answer>();
    auto& answer = *result_.answer;
    answer.head = parser.get().base();
    answer.body.resize(kHeldBodyLimit);
    std::size_t filled = 0;
    auto& deadline = connection.deadline();
    while (!parser.is_done() && filled < answer.body.size()) {
      parser.get().body().data = answer.body.data() + filled;
      parser.get().body().size = answer.body.size() - filled;
      deadline.expires_after(request_.target.idle_timeout);
      if (watch_.gone()) break;
      auto [ec, n] =
          co_await http::async_read_some(upstream, connection.buffer(), parser, use_tuple);
      filled = answer.body.size() - parser.get().body().size;
      if (ec && ec != http::error::need_buffer) break;
    }
    deadline.expires_never();
    answer.body.resize(filled);
    answer.whole = parser.is_done();
    if (answer.whole && parser.keep_alive() && connection.buffer().size() == 0)
      co_return attempt_outcome::reusable;
    co_return attempt_outcome::done;
  }

  // Copies a request body from the client to the backend as it arrives (the bytes read with
  // the head first), each client read under the backend's `idle`: the gateway holds one
  // read's worth, never the body. Returns false when the client stalled (408) or left; a
  // backend that stops taking the body (it may have answered early, e.g. 413) is left to
  // the response head read that follows. Either way the client's connection is not reused
  // unless the whole body was read.
  template <class Stream>
  awaitable<bool> stream_request_body(Stream& upstream, deadline& upstream_deadline) {
    auto& from_client = *request_.client_buffer;
    auto idle = request_.target.idle_timeout;
    std::uint64_t left = request_.streamed_body_length;
    while (left > 0) {
      if (from_client.size() == 0) {
        client_deadline_.expires_after(idle);
        auto want = static_cast<std::size_t>(std::min<std::uint64_t>(left, kStreamReadSize));
        auto [rec, n] = co_await client_.async_read_some(from_client.prepare(want), use_tuple);
        from_client.commit(n);
        if (rec) {
          if (client_deadline_.fired())
            result_.error = errc::request_timeout;
          else
            result_.client_gone = true;
          client_deadline_.expires_never();
          co_return false;
        }
      }
      auto chunk = static_cast<std::size_t>(std::min<std::uint64_t>(from_client.size(), left));
      upstream_deadline.expires_after(idle);
      auto [wec, n] = co_await net::async_write(
          upstream, net::buffer(from_client.data().data(), chunk), use_tuple);
      from_client.consume(n);
      left -= n;
      if (wec) break;
    }
    client_deadline_.expires_never();
    result_.client_body_unread = left > 0;
    co_return true;
  }

  // The rule for sending a request again after its connection closed without a byte of
  // answer. A reused connection that the backend had already closed (its keep-alive
  // timeout) fails like that at once; one on which the backend read the request, worked on
  // it and then died fails like that too, later. Resending in the second case would run
  // the request twice (two completions billed, two tool calls made), so a request that may
  // have changed something (POST, PUT, PATCH, DELETE) is sent again only when the close
  // came within kStaleGrace of the request leaving: too soon for a backend to have done
  // anything with it. GET, HEAD and OPTIONS change nothing and are always sent again.
  bool may_resend_after_close(std::chrono::steady_clock::duration after_write) const {
    return request_.idempotent || after_write <= kStaleGrace;
  }

  static bool is_plain_chunked(const http::response_header<>& head) {
    auto codings = head.equal_range(http::field::transfer_encoding);
    if (codings.first == codings.second) return true;
    return std::next(codings.first) == codings.second &&
           beast::iequals(codings.first->value(), "chunked");
  }

  // "HTTP/1.1 418\r\n", a status line without the space before an empty reason phrase, is
  // sent by real servers and accepted by browsers and nginx; Beast refuses it. When the
  // buffer starts with exactly that, the space is put in and the head parsed again.
  static bool add_missing_reason_phrase(beast::flat_buffer& buffer) {
    constexpr std::size_t kLine = 14;  // "HTTP/1.x NNN\r\n"
    auto data = static_cast<const char*>(buffer.data().data());
    if (buffer.size() < kLine) return false;
    std::string_view line(data, kLine);
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    if (!line.starts_with("HTTP/1.") || !digit(line[7]) || line[8] != ' ' || !digit(line[9]) ||
        !digit(line[10]) || !digit(line[11]) || line.substr(12) != "\r\n")
      return false;
    if (buffer.size() == buffer.max_size()) return false;
    auto size = buffer.size();
    buffer.prepare(1);
    buffer.commit(1);
    auto bytes = static_cast<char*>(buffer.data().data());
    std::memmove(bytes + 13, bytes + 12, size - 12);
    bytes[12] = ' ';
    return true;
  }

  // What a deadline that fired means: `e`, unless the worker is draining and ran out of
  // drain_timeout (deadline_sweeper::expire_all).
  errc timeout_error(errc e) const noexcept {
    return request_.draining && *request_.draining ? errc::shutting_down : e;
  }

  attempt_outcome fail_before_head(const deadline& upstream_deadline, bool may_retry) {
    if (upstream_deadline.fired()) {
      result_.error = timeout_error(errc::upstream_timeout);
      return attempt_outcome::done;
    }
    result_.error = errc::upstream_broken;
    return may_retry ? attempt_outcome::retry : attempt_outcome::done;
  }

  // The response's stages (response_stage.hpp) as one relay runs them: the transforming
  // one, if any, first; the readers after it. Whatever way the relay ends, each stage's
  // on_end runs once.
  class stage_run {
   public:
    explicit stage_run(response_stages stages) : stages_(stages) {}
    stage_run(const stage_run&) = delete;
    stage_run& operator=(const stage_run&) = delete;
    ~stage_run() {
      if (transformer_ && !transformer_ended_) transformer_->on_end(false);
      if (!readers_ended_)
        for (auto* stage : readers()) stage->on_end(false);
    }

    // The transforming stage sees the upstream's head and may change it; the readers see
    // the head the client gets.
    void head(http::response_header<>& head) {
      if (stages_.empty()) return;
      stages_.front()->on_head(head);
      if (auto* output = stages_.front()->output()) {
        transformer_ = stages_.front();
        output_ = output;
        output_->clear();
        transformer_->client_head(head);
      }
      for (auto* stage : stages_.subspan(1)) stage->on_head(head);
    }
    response_stage* transformer() const { return transformer_; }
    bool wants_body_before_head() const {
      for (auto* stage : stages_)
        if (stage->wants_body_before_head()) return true;
      return false;
    }
    void head_fields(std::string& out) const {
      for (auto* stage : stages_) stage->head_fields(out);
    }
    bool transform_ended() const { return transformer_ended_; }
    bool has_readers() const { return !readers().empty(); }
    // What the transforming stage has made of the input so far.
    std::string_view output() const { return *output_; }
    void sent() { output_->clear(); }

    void transform(std::string_view input) { transformer_->on_data(input); }
    void end_transform() {
      transformer_ended_ = true;
      transformer_->on_end(true);
    }
    void read(std::string_view bytes) {
      if (bytes.empty()) return;
      for (auto* stage : readers()) stage->on_data(bytes);
    }
    // The whole response was relayed. (A transforming stage not ended yet had no body to
    // transform, and nothing of it is sent.)
    void end() {
      if (transformer_ && !transformer_ended_) end_transform();
      if (readers_ended_) return;
      readers_ended_ = true;
      for (auto* stage : readers()) stage->on_end(true);
    }

   private:
    response_stages readers() const { return transformer_ ? stages_.subspan(1) : stages_; }

    response_stages stages_;
    response_stage* transformer_ = nullptr;
    std::string* output_ = nullptr;
    bool transformer_ended_ = false;
    bool readers_ended_ = false;
  };

  // Sends the response head, then whatever body bytes each read brought, in one write per
  // read, as soon as they arrive. With no transforming stage, bytes are relayed as the
  // upstream framed them whenever the client takes that framing (chunked to an HTTP/1.1
  // client, a Content-Length body), so the only work per read is a scan for where the
  // message ends (chunked_scanner); a close-delimited body gets chunk framing for an
  // HTTP/1.1 client, and a chunked one loses it for an HTTP/1.0 client. A transforming
  // stage is given the body without framing, and what it makes of it is sent chunked.
  // Returns whether the connection may carry another request: the whole response was
  // relayed and its end was not the connection's close (result_.complete says whether the
  // whole response reached the client).
  template <class Stream>
  awaitable<bool> relay(Stream& upstream, upstream::connection& connection,
                        http::response_parser<http::buffer_body>& parser) {
    auto& upstream_head = parser.get();
    bool has_body = !parser.is_done();
    bool keep_alive = request_.client_keep_alive && !result_.client_body_unread &&
                      !(request_.draining && *request_.draining);
    stage_run stages(request_.stages);
    stages.head(upstream_head);
    auto* transformer = stages.transformer();
    auto framing = body_framing::none;
    auto status = upstream_head.result_int();
    bool bodiless_status = status == 204 || status == 304;
    if (request_.continuation) {  // more of a body whose head the client has
      framing = request_.continuation_framing;
      result_.head_sent = true;
      if (framing == body_framing::until_close) keep_alive = false;
    } else if (!parser.chunked() && parser.content_length() && !bodiless_status &&
               !(transformer && has_body)) {
      framing = body_framing::content_length;
    } else if (has_body && request_.client_version >= 11) {
      framing = body_framing::chunked;
    } else if (has_body) {
      framing = body_framing::until_close;  // HTTP/1.0 client: the body ends with the connection
      keep_alive = false;
    }
    result_.status = upstream_head.result_int();
    keep_request_id(upstream_head);
    bool event_stream = is_media_type({upstream_head[http::field::content_type].data(),
                                       upstream_head[http::field::content_type].size()},
                                      "text/event-stream");

    auto& buffer = connection.buffer();
    auto idle = request_.target.idle_timeout;
    // A small body whole before the head, for a stage that puts what it read into the head.
    std::uint64_t declared = parser.content_length().value_or(0);
    result_.framing = framing;
    bool body_before_head = framing == body_framing::content_length && has_body && !transformer &&
                            declared <= response_stage::kMaxBodyBeforeHead &&
                            stages.wants_body_before_head();
    if (body_before_head) {
      while (buffer.size() < declared) {
        connection.deadline().expires_after(idle);
        if (watch_.gone()) co_return false;
        auto want = std::min<std::size_t>(declared - buffer.size(), 64 * 1024);
        auto [rec, n] = co_await upstream.async_read_some(buffer.prepare(want), use_tuple);
        buffer.commit(n);
        if (rec)
          co_return fail_relay(connection.deadline().fired() ? timeout_error(errc::upstream_timeout)
                                                             : errc::upstream_broken);
      }
      stages.read(
          {static_cast<const char*>(buffer.data().data()), static_cast<std::size_t>(declared)});
      stages.end();
    }
    if (!request_.continuation)
      write_client_response_head(result_.status, upstream_head.reason(), upstream_head.base(),
                                 framing, declared, keep_alive, request_.client_version,
                                 request_.response_head, request_.gateway_fields);
    if (body_before_head) {  // the stages' fields go before the head's blank line
      request_.response_head.resize(request_.response_head.size() - 2);
      stages.head_fields(request_.response_head);
      request_.response_head.append("\r\n");
    }

    // How the upstream delimits its body, and what the client needs done to it.
    enum class source { chunked, length, close };
    auto from = parser.chunked()          ? source::chunked
                : parser.content_length() ? source::length
                                          : source::close;
    bool pass_framing = from == source::chunked && framing == body_framing::chunked && !transformer;
    bool unchunk = from == source::chunked && framing != body_framing::chunked && !transformer;
    bool add_chunks = framing == body_framing::chunked && !pass_framing;
    std::uint64_t length_left = declared;
    chunked_scanner scanner;

    // A response being relayed, from its head on, whatever way the relay ends.
    struct active_stream {
      std::uint64_t& gauge;
      explicit active_stream(std::uint64_t& g) : gauge(g) { ++gauge; }
      ~active_stream() { --gauge; }
    } active(request_.stats.active_streams);
    bool upstream_done = !has_body;
    // A translated message comes whole at the body's end; its head waits for it, so that an
    // answer that could not be translated is a 502 and not a 200 with an error body.
    bool head_at_end =
        transformer && has_body && !request_.continuation && transformer->answers_at_end();
    char chunk_size[20];
    for (;;) {
      // What is buffered now: sent at once, together with the head the first time (one write
      // for a whole small response; the head alone and at once when no body came with it).
      auto* base = static_cast<char*>(buffer.data().data());
      std::string_view input(base, buffer.size());
      std::size_t taken = 0;           // input bytes done with after this step
      std::string_view body;           // what goes out (before any chunk framing of ours)
      std::string_view payload;        // ... and what stages that read see: it without framing
      std::uint64_t payload_size = 0;  // (also when the framing is passed on as it is)
      auto scanner_before = scanner;
      if (!upstream_done) {
        switch (from) {
          case source::chunked: {
            std::size_t unchunked = 0;  // chunk data moved to the front, for an HTTP/1.0 client
            auto scanned = scanner.scan(input, [&](std::size_t at, std::size_t n) {
              if (transformer) stages.transform({base + at, n});
              if (unchunk) std::memmove(base + unchunked, base + at, n);
              unchunked += n;
            });
            if (scanned.error)
              co_return co_await cut_stream(errc::upstream_broken, event_stream, framing,
                                            pass_framing ? &scanner_before : nullptr);
            taken = scanned.taken;
            body = {base, pass_framing ? scanned.relayable : unchunked};
            if (unchunk) payload = body;
            payload_size = scanned.data_bytes;
            upstream_done = scanned.done;
            break;
          }
          case source::length:
            taken = static_cast<std::size_t>(std::min<std::uint64_t>(input.size(), length_left));
            length_left -= taken;
            upstream_done = length_left == 0;
            payload = body = {base, taken};
            payload_size = taken;
            break;
          case source::close:
            taken = input.size();
            payload = body = {base, taken};
            payload_size = taken;
            break;
        }
        if (transformer && from != source::chunked) stages.transform(body);
      }
      // What the transforming stage made of it; at the body's end (also one that ended with
      // the connection, found by the read after the last bytes), its last words too.
      // A transforming stage that found the body to be a failure (an error event): what it
      // made so far goes, and the body is cut there, never ended cleanly.
      bool transform_failed = transformer && has_body && transformer->failed();
      if (transform_failed) upstream_done = false;
      if (transformer && has_body) {
        if (upstream_done && !stages.transform_ended()) {
          stages.end_transform();
          // Its last words may find the body a failure too (a stream that ended early).
          if (transformer->failed()) {
            transform_failed = true;
            upstream_done = false;
          }
        }
        payload = body = stages.output();
        payload_size = body.size();
      }
      if (head_at_end && upstream_done && !result_.head_sent)
        if (auto status = transformer->final_status()) {
          upstream_head.result(status);
          upstream_head.reason({});
          result_.status = status;
          write_client_response_head(status, upstream_head.reason(), upstream_head.base(), framing,
                                     declared, keep_alive, request_.client_version,
                                     request_.response_head, request_.gateway_fields);
        }
      // One gather write: [head] [chunk size] [bytes] [chunk end] [last chunk].
      boost::container::static_vector<net::const_buffer, 5> out;
      if (!result_.head_sent && !(head_at_end && !upstream_done))
        out.push_back(net::buffer(request_.response_head));
      if (!body.empty()) {
        if (add_chunks) {
          auto end = fmt::format_to(chunk_size, "{:x}\r\n", body.size());
          out.push_back(net::buffer(chunk_size, static_cast<size_t>(end - chunk_size)));
        }
        out.push_back(net::buffer(body.data(), body.size()));
        if (add_chunks) out.push_back(net::buffer("\r\n", 2));
      }
      if (upstream_done && framing == body_framing::chunked && has_body)
        out.push_back(net::buffer("0\r\n\r\n", 5));
      if (!out.empty()) {
        client_deadline_.expires_after(idle);
        if (watch_.gone()) co_return false;
        result_.head_sent = true;
        // Stages that read see the bytes once their write was started, where they lie.
        auto let_stages_read = [&] {
          if (body_before_head) return;  // they read it before the head
          if (pass_framing && stages.has_readers())
            scanner_before.scan(input, [&](std::size_t at, std::size_t n) {
              stages.read({base + at, n});
            });
          else
            stages.read(payload);
        };
        if (auto ec = co_await write_to_client(out, let_stages_read)) {
          result_.client_gone = true;  // a write the client refused: it left
          co_return false;
        }
      }
      result_.body_bytes += payload_size;
      if (transformer) stages.sent();
      if (transform_failed) {
        if (!transformer->wrote_error_event())
          co_return co_await cut_stream(errc::upstream_broken, event_stream, framing, nullptr);
        result_.cut = errc::upstream_broken;  // the stage's own error event went last
        result_.error_event_sent = true;
        co_return false;
      }
      buffer.consume(taken);
      if (upstream_done) break;

      connection.deadline().expires_after(idle);
      if (watch_.gone()) co_return false;
      auto [rec, n] = co_await upstream.async_read_some(buffer.prepare(kRelayReadSize), use_tuple);
      buffer.commit(n);
      if (rec == net::error::eof && from == source::close) {
        upstream_done = true;  // a close-delimited body ends with the connection
      } else if (rec) {
        co_return co_await cut_stream(connection.deadline().fired()
                                          ? timeout_error(errc::upstream_stalled)
                                          : errc::upstream_broken,
                                      event_stream, framing, pass_framing ? &scanner : nullptr);
      }
    }
    stages.end();
    // A large body before the head grew the buffer: it goes back to a few pages.
    if (buffer.size() == 0 && buffer.capacity() > 64 * 1024) buffer.shrink_to_fit();
    client_deadline_.expires_never();
    result_.complete = true;
    result_.client_keep_alive = keep_alive;
    co_return from != source::close;
  }

  // A WebSocket session, once the backend switched protocols: its 101 goes to the client,
  // then bytes flow both ways as they come (the frames are the two ends' business) until
  // either side closes or errs, or nothing moves either way for the backend's `idle`. The
  // client watch stands down: the tunnel reads the client itself. Ends with
  // result_.complete when a side closed cleanly.
  template <class Stream>
  awaitable<void> tunnel(Stream& upstream, upstream::connection& connection,
                         const http::response_header<>& head) {
    auto& from_upstream = connection.buffer();  // may hold the first frames already
    auto& from_client = *request_.client_buffer;
    auto& upstream_deadline = connection.deadline();
    auto idle = request_.target.idle_timeout;
    co_await watch_.disarm();
    result_.status = 101;
    result_.head_sent = true;
    bool clean = false;
    // Set by the first direction to end; the other stops at its next step (its pending
    // operation is cancelled; one that had completed already sees the flag).
    bool stopped = false;
    auto end_both = [&] {
      stopped = true;
      error_code ignored;
      client_.cancel(ignored);
      connection.socket().cancel(ignored);
    };
    // One direction: whatever `source` holds goes to `sink`, then read on. A clean end (EOF)
    // or any error ends the whole tunnel.
    auto pump = [&](auto& source, auto& sink, beast::flat_buffer& buffer, deadline& read_deadline,
                    deadline& write_deadline) -> awaitable<void> {
      while (!stopped) {
        if (buffer.size() > 0) {
          write_deadline.expires_after(idle);
          auto [wec, n] = co_await net::async_write(sink, buffer.data(), use_tuple);
          buffer.consume(n);
          if (wec || stopped) break;
        }
        read_deadline.expires_after(idle);
        auto [rec, n] = co_await source.async_read_some(buffer.prepare(kRelayReadSize), use_tuple);
        buffer.commit(n);
        if (rec == net::error::eof && !stopped) clean = true;
        if (rec) break;
      }
      end_both();
    };
    write_client_switching_head(head, request_.response_head);
    client_deadline_.expires_after(idle);
    std::array switching{net::buffer(request_.response_head)};
    auto nothing_to_read = [] {};
    if (auto ec = co_await write_to_client(switching, nothing_to_read)) {
      result_.client_gone = true;
      co_return;
    }
    co_await (pump(upstream, client_, from_upstream, upstream_deadline, client_deadline_) &&
              pump(client_, upstream, from_client, client_deadline_, upstream_deadline));
    client_deadline_.expires_never();
    upstream_deadline.expires_never();
    result_.complete = clean;
    result_.client_keep_alive = false;
  }

  // Writes to the client with the non-blocking call first: a write that fits the socket's
  // buffer (nearly every relay write) completes in its one syscall, without the trip
  // through the scheduler (an epoll_wait) that an async write's completion takes. The rest,
  // if the client reads slowly, goes by an async write. `started` runs once the write was
  // started, before any wait for the client.
  template <class Buffers, class Started>
  awaitable<error_code> write_to_client(const Buffers& buffers, Started&& started) {
    beast::buffers_suffix<Buffers> rest(buffers);
    error_code ec;
    rest.consume(client_.write_some(rest, ec));
    if (ec && ec != net::error::would_block && ec != net::error::try_again) co_return ec;
    started();
    if (beast::buffer_bytes(rest) == 0) co_return error_code{};
    auto [wec, n] = co_await net::async_write(client_, rest, use_tuple);
    co_return wec;
  }

  void keep_request_id(const http::response_header<>& head) {
    if (auto id = head["x-request-id"]; !id.empty())
      result_.upstream_request_id.assign(id.data(), std::min<std::size_t>(id.size(), 128));
  }

  // A body cut short after its head went out (the caller then closes with a reset, so the
  // client never sees a clean end: no last chunk, no [DONE]). An event stream first gets an
  // error event in OpenAI's shape (`data: {"error":{...}}`), which the SDKs raise as an
  // error, instead of a bare reset. `passed_chunks`: the upstream's chunk framing as relayed
  // so far, when it is passed on; a chunk it left open is completed first (with newlines,
  // which end whatever event was open) so that the error goes in a chunk of its own.
  awaitable<bool> cut_stream(errc e, bool event_stream, body_framing framing,
                             const chunked_scanner* passed_chunks) {
    if (!result_.head_sent) co_return fail_relay(e);
    result_.cut = e;
    if (!event_stream || (framing != body_framing::chunked && framing != body_framing::until_close))
      co_return false;
    if (request_.defer_error_event) co_return false;  // the attempt loop may resume it
    constexpr std::uint64_t kMaxPadding = 64 * 1024;
    std::string tail;  // the failure path: allocating here costs the relay nothing
    if (passed_chunks && passed_chunks->in_chunk()) {
      if (passed_chunks->data_left() > kMaxPadding) co_return false;
      tail.append(static_cast<std::size_t>(passed_chunks->data_left()), '\n');
      tail.append("\r\n");
    }
    tail += stream_error_event(e, framing, request_.api);
    client_deadline_.expires_after(request_.target.idle_timeout);
    std::array out{net::buffer(tail)};
    auto nothing_to_read = [] {};
    auto ec = co_await write_to_client(out, nothing_to_read);
    result_.error_event_sent = !ec;
    client_deadline_.expires_never();
    co_return false;
  }

  // A response that cannot be relayed on: before its head left, the client gets an error
  // reply; after, only a cut connection.
  bool fail_relay(errc e) {
    if (!result_.head_sent) result_.error = e;
    return false;
  }

  tcp::socket& client_;
  deadline& client_deadline_;
  client_watch& watch_;
  exchange_request request_;
  upstream::connection_pool& pool_;
  exchange_result& result_;
};

}  // namespace

std::string stream_error_event(errc e, body_framing framing, client_api api) {
  // Anthropic's clients read an event named `error`; OpenAI's, any data with an error.
  auto event =
      fmt::format("\n\n{}data: {}\n\n", api == client_api::anthropic ? "event: error\n" : "",
                  render_error_json(e, {}, api));
  if (framing != body_framing::chunked) return event;
  return fmt::format("{:x}\r\n{}\r\n", event.size(), event);
}

awaitable<bool> write_stream_error(tcp::socket& client, deadline& client_deadline, duration idle,
                                   errc e, body_framing framing) {
  auto event = stream_error_event(e, framing);
  client_deadline.expires_after(idle);
  auto [ec, n] = co_await net::async_write(client, net::buffer(event), use_tuple);
  client_deadline.expires_never();
  co_return !ec;
}

awaitable<exchange_result> forward(tcp::socket& client, deadline& client_deadline,
                                   client_watch& watch, exchange_request request,
                                   upstream::connection_pool& pool) {
  exchange_result result;
  // A streamed request body is read by the exchange itself; the watch starts after it.
  result.client_body_unread = request.streamed_body_length > 0;
  if (request.streamed_body_length == 0) watch.arm();
  exchange ex(client, client_deadline, watch, request, pool, result);
  co_await ex.run();
  result.client_gone = result.client_gone || watch.gone();
  co_await watch.disarm();
  co_return result;
}

}  // namespace aigw::proxy
