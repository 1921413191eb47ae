#pragma once
// One request/response exchange with a backend: take or open a connection, send the request,
// wait for the response head, relay the body to the client as it arrives. Meanwhile the
// client socket is watched, so a client that goes away closes the upstream at once (the
// provider stops generating, and billing).
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include <boost/beast/core/flat_buffer.hpp>
#include <string>
#include <string_view>

#include "aigw/core/asio.hpp"
#include "aigw/core/deadline.hpp"
#include "aigw/core/errc.hpp"
#include "aigw/metrics/worker_stats.hpp"
#include "aigw/proxy/client_watch.hpp"
#include "aigw/proxy/header_policy.hpp"
#include "aigw/proxy/response_stage.hpp"
#include "aigw/upstream/connection_pool.hpp"
#include "aigw/upstream/target.hpp"

namespace aigw::proxy {

struct exchange_request {
  const std::string& head;  // the upstream request head (header_policy)
  std::string_view body;    // the request body the adapter gave
  bool head_request;        // HEAD: the response has no body whatever it says
  bool idempotent;          // GET, HEAD, OPTIONS: may be sent again after a close
  const upstream::target& target;
  std::size_t backend_slot;        // the backend's slot (upstream::target::slot): pool, counters
  bool client_keep_alive;          // the client asked to keep its connection
  const bool* draining = nullptr;  // true once the worker drains: Connection: close
  unsigned client_version;         // 10 or 11; an HTTP/1.0 client cannot take chunked
  std::string& response_head;      // scratch for the client response head, reused per session
  metrics::worker_stats& stats;    // upstream connects, active streams
  response_stages stages = {};     // what reads or rewrites the response body; none: identity
  std::string_view gateway_fields = {};  // the gateway's own response headers (x-aigw-*)
  // A WebSocket upgrade: a 101 answer turns the exchange into a byte tunnel between the
  // client and the backend, starting with the bytes already in `client_buffer` (the
  // session's read buffer).
  bool websocket = false;
  beast::flat_buffer* client_buffer = nullptr;
  // A request body that streams from the client after the head (`body` is then empty): its
  // declared length, read from `client_buffer` first, then from the client.
  std::uint64_t streamed_body_length = 0;
  // Answers the attempt loop may still replace with another target's: a head with such a
  // status is not relayed; its body (up to kHeldBodyLimit) is held in the result instead.
  bool hold_5xx = false;
  bool hold_429 = false;
  // A cut event stream the attempt loop may resume: no error event is written (the loop
  // writes one, write_stream_error, if it cannot go on).
  bool defer_error_event = false;
  // The continuation of a stream whose head (with `continuation_framing`) the client has:
  // only a 200 event stream is relayed, as more of that body; any other answer is held.
  bool continuation = false;
  body_framing continuation_framing = body_framing::chunked;
  client_api api = client_api::openai;  // the shape of an error event the gateway writes
};

// A backend's answer that was not relayed (exchange_request::hold_5xx / hold_429): relayed
// later if no other target answers better.
struct held_answer {
  http::response_header<> head;
  std::string body;
  bool whole = false;  // the body was read to its end (within kHeldBodyLimit)
};
inline constexpr std::size_t kHeldBodyLimit = 64 * 1024;

struct exchange_result {
  errc error = errc::ok;            // set when no response head was sent: answer it locally
  bool head_sent = false;           // after this, a failure can only close the connection
  bool complete = false;            // the whole response reached the client
  bool client_gone = false;         // the client closed its connection first
  bool client_keep_alive = false;   // the relayed response left the client connection reusable
  bool client_body_unread = false;  // a streamed request body was not read to its end
  unsigned status = 0;              // upstream status relayed to the client
  std::string upstream_request_id;  // the backend's x-request-id (at most 128 bytes)
  std::uint64_t body_bytes = 0;
  std::chrono::steady_clock::time_point first_byte{};  // when the response head arrived
  // A 429's head asked for this much quiet (Retry-After, x-ratelimit-reset-*).
  std::optional<std::chrono::milliseconds> backoff;
  bool error_event_sent = false;              // a cut event stream ended with an SSE error event
  errc cut = errc::ok;                        // why the body was cut after its head (upstream side)
  body_framing framing = body_framing::none;  // how the client's body is delimited
  bool held = false;                          // `status` was held, not relayed: `answer`
  std::unique_ptr<held_answer> answer;
};

// The last event of an event stream cut after its head (OpenAI's error shape), as the
// client's framing wants it: a chunk of its own, or bare bytes before the close.
std::string stream_error_event(errc e, body_framing framing, client_api api = client_api::openai);
// Writes it to the client (its write under `idle`); true when it was sent.
awaitable<bool> write_stream_error(tcp::socket& client, deadline& client_deadline, duration idle,
                                   errc e, body_framing framing);

// `watch` is the session's client_watch; it is armed for the time of the exchange.
awaitable<exchange_result> forward(tcp::socket& client, deadline& client_deadline,
                                   client_watch& watch, exchange_request request,
                                   upstream::connection_pool& pool);

}  // namespace aigw::proxy
