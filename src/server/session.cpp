#include "session.hpp"
#include "request_log.hpp"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/container/small_vector.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "aigw/core/access_log.hpp"
#include "aigw/core/log.hpp"
#include "aigw/core/percent_encoding.hpp"
#include "aigw/json/model_extractor.hpp"
#include "aigw/providers/adapter.hpp"
#include "aigw/providers/translators.hpp"
#include "aigw/proxy/endpoints.hpp"
#include "aigw/proxy/exchange.hpp"
#include "aigw/proxy/header_policy.hpp"
#include "aigw/proxy/object_id_stage.hpp"
#include "aigw/proxy/resume_stage.hpp"
#include "aigw/proxy/usage_stage.hpp"
#include "aigw/routing/glob.hpp"

namespace aigw::server {
namespace {

using clock = std::chrono::steady_clock;
using request_parser = http::request_parser<http::string_body>;

// A query string's piece decoded ('+' is a space).
std::string percent_decoded(std::string_view text) {
  return percent_decode(text, true);
}

// Calls `visit(decoded key, raw parameter)` for each parameter of `query` ("" or "?...").
template <class Visit>
void for_each_query_parameter(std::string_view query, Visit&& visit) {
  for (std::size_t at = 1; at < query.size();) {
    auto end = std::min(query.find('&', at), query.size());
    auto param = query.substr(at, end - at);
    at = end + 1;
    if (!param.empty()) visit(percent_decoded(param.substr(0, param.find('='))), param);
  }
}

// The first `name` parameter's value, decoded; "" when absent.
std::string query_parameter(std::string_view query, std::string_view name) {
  std::optional<std::string> value;
  for_each_query_parameter(query, [&](const std::string& key, std::string_view param) {
    auto eq = param.find('=');
    if (!value && key == name)
      value = percent_decoded(eq == param.npos ? "" : param.substr(eq + 1));
  });
  return value.value_or("");
}

// How many `name` parameters `query` has (however their keys are encoded).
std::size_t count_query_parameter(std::string_view query, std::string_view name) {
  std::size_t n = 0;
  for_each_query_parameter(query,
                           [&](const std::string& key, std::string_view) { n += key == name; });
  return n;
}

// `query` ("" or "?...") with every `name` parameter (however its key is encoded) replaced
// by one `name=value` at its end, the value percent-encoded.
std::string with_query_parameter(std::string_view query, std::string_view name,
                                 std::string_view value) {
  std::string out = "?";
  for_each_query_parameter(query, [&](const std::string& key, std::string_view param) {
    if (key != name) out.append(param).push_back('&');
  });
  out.append(name).push_back('=');
  percent_encode(value, out);
  return out;
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

// A client that went away while its request was read: nothing to answer.
bool is_disconnect(error_code ec) {
  return is_connection_lost(ec) || ec == http::error::partial_message ||
         ec == net::error::operation_aborted;
}

// How a request ended: what finish() has to write, log and decide.
enum class ending {
  none,         // no phase ended it yet
  quiet,        // the client closed, or an idle keep-alive connection ended: nothing to say
  error,        // a local error reply (request_context::error, detail)
  local_reply,  // an answer of the gateway's own (request_context::reply_body)
  client_gone,  // the client left before any response byte: logged as 499
  relayed,      // the backend's response was relayed (request_context::result)
  held_answer,  // a backend's 5xx or 429 held while others were tried, none better (last_answer)
};

// One target of a request's plan: a backend and the model the route sends it (empty: the
// client's own).
struct planned_attempt {
  std::size_t backend_index = 0;
  std::string upstream_model;
};

// Everything known about one request, filled in phase by phase: no phase parses again what
// an earlier one found.
struct request_context {
  explicit request_context(process_budget& budget) : reserved(budget) {}

  request_parser parser;  // the head, and the original body (never rewritten)
  request_log log;
  unsigned version = 11;
  bool keep_alive = false;
  bool head_request = false;
  bool websocket = false;  // GET /v1/realtime asking to switch to WebSocket
  // A large non-JSON body left unread by read_request, to stream upstream (its length), and
  // whether some of it is still unread (the connection cannot carry another request then).
  std::uint64_t streamed_body_length = 0;
  bool body_unread = false;
  body_reservation reserved;  // the body's share of the process budget, until the end
  proxy::endpoint endpoint;
  beast::string_view query;  // "" or "?...", as the client sent it
  json::request_fields fields;
  // Object affinity: the backend that a tagged object id in the request names, and the path
  // (after /v1), query and body with the tags removed (each empty when unchanged).
  proxy::object_ids::request_ids objects;
  // The targets to try, in order (routing::route_table::order_targets), and how.
  boost::container::small_vector<planned_attempt, 4> plan;
  const config::retry_policy* retry = nullptr;
  unsigned attempts = 0;  // exchanges started
  // The last 5xx or 429 held back while another target was tried, and whose it was.
  std::unique_ptr<proxy::held_answer> last_answer;
  std::size_t last_answer_backend = metrics::kNoBackend;
  bool has_last_answer = false;
  bool panic = false;  // every target was out of rotation: tried all the same
  // Targets whose adapter cannot take this request (an endpoint its API lacks, a field it
  // cannot translate): bit i for plan[i] (the first 64), skipped from then on; the last
  // refusal is the answer when no target could take it.
  std::uint64_t refused_targets = 0;
  // The calling client (with `clients:`), and what its admission reserved.
  const proxy::client_table::entry* client = nullptr;
  proxy::client_admission admission;
  std::uint64_t input_estimate = 0, output_estimate = 0;  // what admission reserved
  errc refusal = errc::ok;
  std::string refusal_detail;
  // Resuming a broken stream (the route's `resume`): whether this one may be, and once it
  // was, the continuation request (its body and fields) and how many times it went on.
  bool resumable = false;
  // Once a stream broke (the client has its head): the continuation request and the
  // stream as it was; every later try is a continuation of it.
  struct resume_state {
    std::string body;
    json::request_fields fields;
    proxy::exchange_result stream;  // the relayed stream as it was when it broke
  };
  std::unique_ptr<resume_state> resume;  // allocated then: rare, and not in every frame
  unsigned resumes = 0;
  std::uint64_t resumed_events = 0;  // data events the broken pieces of a resumed stream relayed
  std::string upstream_body;         // an attempt's rewritten body (adapter scratch); else empty
  // What reads or rewrites the response body (proxy/response_stage.hpp), in order; the
  // features that need one (usage accounting, object ids, resume) add it before forward.
  boost::container::small_vector<proxy::response_stage*, 4> stages;
  // An attempt on a backend whose answers are translated (providers::translators): its
  // stage, and the stages it runs in place of `stages` (the translation, then usage).
  proxy::response_stage* translator = nullptr;
  boost::container::small_vector<proxy::response_stage*, 2> translated_stages;
  std::size_t backend_index = metrics::kNoBackend;  // the backend tried last
  std::string request_model;  // the model it was sent (after the route's override)
  bool counts_usage = false;  // the usage stage reads the response
  bool force_usage = false;   // ... and asked the backend for usage the client did not ask for

  ending end = ending::none;
  errc error = errc::ok;
  std::string detail;
  std::string reply_body;
  proxy::exchange_result result;
};

class session {
 public:
  session(tcp::socket socket, std::shared_ptr<const proxy::snapshot> config,
          worker_resources resources)
      : client_(std::move(socket)),
        deadline_(resources.sweeper, client_),
        watch_(proxy::client_watch::create(client_, buffer_)),
        config_(std::move(config)),
        pool_(resources.pool),
        budget_(resources.budget),
        stats_(resources.stats),
        sessions_(resources.sessions),
        client_budgets_(resources.client_budgets) {
    waiting_.socket = &client_;
    waiting_.buffer = &buffer_;
  }

  awaitable<void> run() {
    error_code ignored;
    client_.set_option(tcp::no_delay(true), ignored);
    client_.non_blocking(true, ignored);  // the relay writes with the non-blocking call first
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
  // Serves one request; returns whether the connection stays open for another. A request
  // goes through named phases, each of which either lets it go on or records how it ended;
  // finish() is the one exit that writes a local reply, the log line, and decides between
  // keep-alive, a clean close and a reset. A feature plugs into a phase, never a new path.
  awaitable<bool> serve_one() {
    // The worker's config as of this request, which keeps it to its end (a reload swaps
    // the worker's, never this one's).
    if (config_ != sessions_.config) config_ = sessions_.config;
    request_context ctx(budget_);
    bool go_on = co_await read_request(ctx);
    // A request read and not answered yet (a gauge), whatever way it ends.
    struct in_flight {
      std::uint64_t* gauge;
      ~in_flight() {
        if (gauge) --*gauge;
      }
    } active{go_on ? &stats_.active_requests : nullptr};
    if (go_on) ++stats_.active_requests;
    go_on = go_on && answer_locally(ctx) && inspect(ctx) && plan(ctx);
    // (no coroutine frame without keys)
    if (go_on && ctx.client) go_on = admit_models(ctx) && admit_objects(ctx) && co_await admit(ctx);
    if (go_on) co_await forward(ctx);
    co_return co_await finish(ctx);
  }

  // The head (bounded, under client_header), the framing rules, the body's share of the
  // process budget, 100-continue, and the body (each read under `idle`).
  awaitable<bool> read_request(request_context& ctx) {
    const auto& cfg = config_->config;
    auto& parser = ctx.parser;
    parser.header_limit(cfg.limits.max_request_headers);
    parser.body_limit(cfg.limits.max_request_body);

    // Draining: a connection that was served closes instead of waiting for another request.
    if (draining() && requests_read_ > 0) co_return end_quietly(ctx);
    deadline_.expires_after(cfg.timeouts.client_header);
    sessions_.waiting.push_back(waiting_);
    auto [ec, n] = co_await http::async_read_header(client_, buffer_, parser, use_tuple);
    waiting_.unlink();
    ++requests_read_;
    auto& request = parser.get();
    log_request_line(request, ctx.log);  // also when the request line came before an error
    // The request's id: the client's when it is sane, else a new one. It goes upstream and
    // back to the client.
    auto client_id = request["x-request-id"];
    ctx.log.request_id = is_sane_request_id({client_id.data(), client_id.size()})
                             ? std::string(client_id)
                             : new_request_id();
    if (ec) {
      // A keep-alive connection closed or idle between requests ends quietly.
      bool nothing_received = buffer_.size() == 0 && !parser.got_some();
      bool timed_out = deadline_.fired();
      if (timed_out ? nothing_received : is_disconnect(ec)) co_return end_quietly(ctx);
      co_return end_with_error(ctx, read_error(ec, timed_out));
    }
    ctx.version = request.version();
    ctx.head_request = request.method() == http::verb::head;
    auto target = request.target();
    if (auto query_at = target.find('?'); query_at != beast::string_view::npos)
      ctx.query = target.substr(query_at);

    // Framing the gateway will not guess at (RFC 9112 sections 3.2 and 6.1): a transfer
    // coding other than plain chunked, any transfer coding from an HTTP/1.0 client, and an
    // HTTP/1.1 request without exactly one Host.
    if (auto it = request.find(http::field::transfer_encoding);
        it != request.end() &&
        (ctx.version < 11 || !proxy::is_acceptable_transfer_encoding(it->value())))
      co_return end_with_error(ctx, errc::bad_framing);
    if (ctx.version == 11 && request.count(http::field::host) != 1)
      co_return end_with_error(ctx, errc::bad_request,
                               "an HTTP/1.1 request needs exactly one Host header");
    // A fragment is never sent in a request target (RFC 9112 3.2); Beast lets '#' through.
    if (target.find('#') != beast::string_view::npos)
      co_return end_with_error(ctx, errc::bad_request, "the request target has a fragment ('#')");
    // Who is calling, before any of the body is read (or 100-continue promised): an unknown
    // caller costs the gateway no body memory.
    if (!identify(ctx)) co_return false;
    auto declared_length = parser.content_length();
    if (declared_length && *declared_length > cfg.limits.max_request_body)
      co_return end_with_error(ctx, errc::body_too_large);
    // A large body that is not JSON (a file, audio) is not held: it streams to the backend
    // as it arrives, once the request is routed (by its headers; such a body names no
    // model). Only a declared length streams: the upstream gets the same Content-Length.
    ctx.streamed_body_length =
        declared_length && *declared_length > kStreamBodyOver && !is_json_body(request)
            ? *declared_length
            : 0;
    // Any other body counts against the process's budget from here until the request ends:
    // a declared length in full, before anything is read or 100-continue is promised.
    if (declared_length && ctx.streamed_body_length == 0 && !ctx.reserved.grow_to(*declared_length))
      co_return end_with_error(ctx, errc::overloaded);

    if (ctx.version == 11 && beast::iequals(request[http::field::expect], "100-continue")) {
      http::response<http::empty_body> go_on{http::status::continue_, 11};
      auto [cec, cn] = co_await http::async_write(client_, go_on, use_tuple);
      if (cec) co_return end_quietly(ctx);
    }

    if (ctx.streamed_body_length > 0) {
      deadline_.expires_never();
      ctx.keep_alive = request.keep_alive();
      ctx.body_unread = true;
      co_return true;
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
        if (!timed_out && is_disconnect(bec)) co_return end_quietly(ctx);
        co_return end_with_error(ctx, read_error(bec, timed_out));
      }
      if (!ctx.reserved.grow_to(body.capacity()))  // a chunked body, as it grows
        co_return end_with_error(ctx, errc::overloaded);
    }
    deadline_.expires_never();
    // Beast adds a chunked body's trailer fields to the head; they would be routed on and
    // forwarded as headers that no front proxy ever saw. No OpenAI client sends trailers.
    if (std::distance(request.begin(), request.end()) != fields_in_head)
      co_return end_with_error(ctx, errc::bad_framing, "trailer fields are not accepted");
    ctx.keep_alive = request.keep_alive();
    co_return true;
  }

  // Who is calling: with clients configured, the key a request presents must be one of
  // theirs (only the health check is open to anyone).
  bool identify(request_context& ctx) {
    if (!config_->config.requires_keys() || ctx.log.path == "/healthz") return true;
    ctx.client = config_->clients.find(proxy::client_table::presented_key(ctx.parser.get().base()));
    if (!ctx.client) {
      ctx.endpoint.api = proxy::classify(ctx.log.path).api;  // the error in the caller's shape
      return end_with_error(ctx, errc::invalid_api_key);
    }
    ctx.log.client = ctx.client->config.name;
    return true;
  }

  // A client held to some models is held to the models its backends are sent: each planned
  // target's model, after the route's override, must be one of them, and the targets whose
  // model is not are dropped from the plan (whatever chose the route: a header may pick one
  // that serves another model than the one named). A POST whose model the gateway cannot
  // read (a body that is not JSON, one that names none: a multipart upload, a batch file, a
  // continued response) is refused, whatever x-ai-eg-model says: the backend reads the body.
  bool admit_models(request_context& ctx) {
    const auto& client = *ctx.client;
    if (client.config.models.empty()) return true;
    auto& request = ctx.parser.get();
    bool model_sent = ctx.endpoint.rest == "/realtime" ||  // in the query
                      (ctx.fields.has_model && is_json_body(request));
    if (!model_sent) {
      if (request.method() != http::verb::post) return true;  // reads and deletes cost nothing
      record_rejection(ctx, "model");
      return end_with_error(ctx, errc::model_not_allowed,
                            fmt::format("a request to {} names no model the gateway can read",
                                        ctx.log.path.substr(0, 128)));
    }
    std::string refused;
    auto kept = std::remove_if(ctx.plan.begin(), ctx.plan.end(), [&](const planned_attempt& a) {
      const auto& model = a.upstream_model.empty() ? ctx.log.model : a.upstream_model;
      if (proxy::client_table::allows(client, model)) return false;
      if (refused.empty()) refused = model;
      return true;
    });
    ctx.plan.erase(kept, ctx.plan.end());
    if (!ctx.plan.empty()) return true;
    record_rejection(ctx, "model");
    auto detail = fmt::format("\"{}\"", std::string_view(refused).substr(0, 128));
    if (refused != ctx.log.model)
      detail += fmt::format(" (the model this route sends \"{}\" to)",
                            std::string_view(ctx.log.model).substr(0, 128));
    return end_with_error(ctx, errc::model_not_allowed, std::move(detail));
  }

  // What the client may spend: its budgets must hold the request's estimate, which is
  // reserved (all windows or none) until the request ends and its real usage is charged
  // (charge_client). With `redis:` the budgets are every replica's, and checking them is
  // one round trip (proxy/client_budgets.hpp).
  awaitable<bool> admit(request_context& ctx) {
    const auto& client = *ctx.client;
    bool post = ctx.parser.get().method() == http::verb::post;
    // Tokens are estimated for the APIs that spend them: the body's bytes / 4 for the input,
    // the request's max_tokens (else the client's default) for the output (embeddings
    // have none).
    bool spends_tokens =
        post && (proxy::reports_usage(ctx.endpoint.rest) || ctx.endpoint.rest == "/messages");
    ctx.input_estimate = spends_tokens ? ctx.parser.get().body().size() / 4 : 0;
    ctx.output_estimate = !spends_tokens || ctx.endpoint.rest == "/embeddings" ? 0
                          : ctx.fields.max_tokens ? ctx.fields.max_tokens
                                                  : client.config.limits.default_output;
    ctx.admission = co_await client_budgets_.admit(client, ctx.input_estimate, ctx.output_estimate);
    if (ctx.admission.unavailable) {
      record_rejection(ctx, "unavailable");
      co_return end_with_error(ctx, errc::budget_unavailable);
    }
    if (!ctx.admission.admitted) {
      record_rejection(ctx, ctx.admission.limit);
      co_return end_with_error(
          ctx, errc::rate_limited,
          fmt::format("{} per {}{}", ctx.admission.limit, ctx.admission.window,
                      ctx.admission.never_fits ? " (this request alone is over the budget)" : ""));
    }
    co_return true;
  }

  void record_rejection(const request_context& ctx, std::string_view reason) {
    auto& counts = stats_.client(ctx.client->config.name);
    if (reason == "model")
      ++counts.rejected_model;
    else if (reason == "requests")
      ++counts.rejected_requests;
    else if (reason == "unavailable")
      ++counts.rejected_unavailable;
    else
      ++counts.rejected_tokens;
  }

  // The end of an admitted request: the usage its backend reported replaces the
  // reservation; an error answer without usage (a 4xx, 5xx or 429: no tokens spent), or a
  // request no backend received, costs nothing; a request a backend received and whose usage
  // went unreported (cut, timed out, the client left) keeps its reservation: it may have
  // been billed.
  //
  // An answer relayed without its whole usage (the client left, the backend cut it, it was
  // resumed elsewhere) is charged its reservation at least: the usage it did report, else
  // one output token per data event relayed, when that is more.
  void charge_client(const request_context& ctx) {
    if (!ctx.client || !ctx.admission.admitted) return;
    auto& counts = stats_.client(ctx.client->config.name);
    ++counts.requests;
    const auto& usage = usage_stage_.usage();
    bool relayed = ctx.end == ending::relayed;
    bool error_answer = (relayed && ctx.result.status >= 400) || ctx.end == ending::held_answer;
    bool received =
        ctx.attempts > 0 && !(ctx.end == ending::error && ctx.error == errc::upstream_unreachable);
    if (error_answer || !received) {
      client_budgets_.charge(*ctx.client, ctx.admission, 0, 0);
      return;
    }
    if (!relayed || !ctx.counts_usage) return;  // the reservation stands
    std::uint64_t input = usage.input, output = usage.output + ctx.resumed_events;
    if (!ctx.result.complete || !usage.found || ctx.resumes > 0) {
      input = std::max(input, ctx.input_estimate);
      output =
          std::max({output, usage_stage_.data_events() + ctx.resumed_events, ctx.output_estimate});
    }
    client_budgets_.charge(*ctx.client, ctx.admission, input, output);
    counts.input_tokens += input;
    counts.output_tokens += output;
  }

  // The paths the gateway answers itself, and those it does not serve at all.
  bool answer_locally(request_context& ctx) {
    ctx.endpoint = proxy::classify(ctx.log.path);
    switch (ctx.endpoint.kind) {
      case proxy::endpoint_kind::unknown:
        return end_with_error(ctx, errc::not_found,
                              fmt::format("{} {}", ctx.log.method, ctx.log.path));
      case proxy::endpoint_kind::health:
        return end_with_reply(ctx, R"({"status":"ok"})");
      case proxy::endpoint_kind::list_models:  // what the caller may use
        return end_with_reply(ctx, config_->models_json_for(ctx.client));
      case proxy::endpoint_kind::retrieve_model: {
        auto id = ctx.endpoint.rest.substr(std::string_view("/models/").size());
        if (auto body = config_->model_json(id, ctx.client))
          return end_with_reply(ctx, std::move(*body));
        return end_with_error(ctx, errc::model_not_found, fmt::format("\"{}\"", id));
      }
      case proxy::endpoint_kind::routed:
        return true;
    }
    return true;
  }

  // The body, validated and read once: the model (or the x-ai-eg-model header), the fields
  // later phases need, and the stored objects the request names.
  bool inspect(request_context& ctx) {
    auto& request = ctx.parser.get();
    bool needs_model = ctx.endpoint.needs_model && request.method() == http::verb::post;
    if (!request.body().empty() && is_json_body(request)) {
      if (auto e = json::extract_request_fields(request.body(), ctx.fields); e != errc::ok)
        return end_with_error(ctx, e, std::move(ctx.fields.problem));
    } else if (needs_model && is_json_body(request)) {
      return end_with_error(ctx, errc::invalid_json, "the body is empty");
    }
    config_->affinity.restore(ctx.endpoint.rest, {ctx.query.data(), ctx.query.size()},
                              request.body(), ctx.fields.tagged_ids, ctx.objects,
                              ctx.client ? std::string_view(ctx.client->config.name) : "",
                              ctx.fields.untagged_references);
    // The body sent is the one without tags: the model override's offsets must be its own
    // (the fields are the same: only ids changed).
    if (!ctx.objects.body.empty()) {
      ctx.fields = {};
      json::extract_request_fields(ctx.objects.body, ctx.fields);
    }
    ctx.log.model = ctx.fields.has_model ? std::move(ctx.fields.model)
                                         : std::string(request[config::kModelHeader]);
    // The Realtime API names its model in the query (a WebSocket handshake has no body), and
    // only there: the backend reads it there too.
    if (ctx.endpoint.rest == "/realtime") {
      std::string_view query(ctx.query.data(), ctx.query.size());
      // Exactly what the backend will read: one `model`, and no ';' (which some servers
      // split parameters at too).
      if (query.find(';') != query.npos || count_query_parameter(query, "model") > 1)
        return end_with_error(ctx, errc::invalid_parameter,
                              "the query must name one \"model\", and have no ';'");
      ctx.websocket = proxy::is_websocket_upgrade(request);
      ctx.log.model = query_parameter(query, "model");
    }
    // A request that continues a stored response (or names another stored object) has the
    // model of what it continues.
    if (needs_model && ctx.log.model.empty() && !ctx.fields.has_previous_response &&
        !ctx.objects.backend)
      return end_with_error(ctx, errc::missing_model);
    return true;
  }

  // With stored objects scoped to their owners (proxy/object_ids.hpp), a request naming one
  // that is not the caller's (by another's tag, a forged one, or a raw id) is a 404, as if
  // there were no such object, and a listing (whose items would be every client's) a 403.
  bool admit_objects(request_context& ctx) {
    auto& request = ctx.parser.get();
    if (!config_->affinity.scoped()) return true;
    if (ctx.objects.foreign)
      return end_with_error(ctx, errc::object_not_found, std::string(ctx.log.path.substr(0, 128)));
    bool reads = request.method() == http::verb::get || request.method() == http::verb::head;
    if (reads && !proxy::is_websocket_upgrade(request) && names_no_object(ctx.endpoint.rest))
      return end_with_error(ctx, errc::listing_not_allowed);
    return true;
  }

  // The targets the request may be sent to, in order, the model each is sent, and the
  // stages its response goes through.
  bool plan(request_context& ctx) {
    const auto& routes = config_->routes;
    auto route_index = routes.match_route({ctx.log.model, ctx.parser.get().base()});
    ctx.log.route = static_cast<int>(route_index);
    ctx.retry = &config_->config.routes[route_index].retry;
    bool model_sent = ctx.fields.has_model || ctx.websocket;
    if (ctx.objects.backend) {
      // A stored object is served by the backend that holds it, whatever its health: with
      // the model override the route gives that backend, if the route has it among its
      // targets, else the model as sent.
      auto target = routes.target_on({route_index, 0, 0}, *ctx.objects.backend);
      ctx.plan.push_back({*ctx.objects.backend, target && ctx.fields.has_model
                                                    ? routes.upstream_model(*target, ctx.log.model)
                                                    : std::string()});
    } else {
      routing::target_order order;
      routes.order_targets(
          route_index,
          [&](std::uint32_t backend) { return config_->targets[backend].health->in_rotation(); },
          order);
      if (order.empty()) {
        // Every target is out of rotation: they are tried all the same, in order, each as
        // a probe (Envoy's panic routing). With nowhere else to go, refusing would turn a
        // flaky backend into an outage of the gateway's own making; the client gets the
        // backend's own answer, and the first success closes its breaker.
        ctx.panic = true;
        routes.order_targets(
            route_index, [](std::uint32_t) { return true; }, order);
      }
      for (const auto& t : order)
        ctx.plan.push_back({t.backend_index,
                            model_sent ? routes.upstream_model(t, ctx.log.model) : std::string()});
    }
    auto method = ctx.parser.get().method_string();
    if (config_->affinity.mints() &&
        proxy::returns_stored_objects(ctx.endpoint.rest, {method.data(), method.size()},
                                      ctx.fields.store))
      ctx.stages.push_back(&object_stage_);
    // A streamed chat completion on a route with `resume` is relayed event by event, so
    // that a break can be resumed elsewhere (not with a stage that rewrites already).
    ctx.resumable = config_->config.routes[route_index].resume && method == "POST" &&
                    ctx.endpoint.rest == "/chat/completions" && ctx.fields.stream &&
                    ctx.stages.empty() && !ctx.objects.backend &&
                    std::none_of(ctx.plan.begin(), ctx.plan.end(), [&](const auto& a) {
                      return providers::translators::translated(
                          config_->targets[a.backend_index].schema, ctx.endpoint.api);
                    });
    // What it may hold (the text so far, an incomplete event) counts against the process's
    // body budget for the stream's life; past the budget, a stream is relayed without resume.
    if (ctx.resumable && !ctx.reserved.grow_to(ctx.parser.get().body().capacity() + kResumeHeld))
      ctx.resumable = false;
    if (ctx.resumable) {
      resume_stage_.start();
      ctx.stages.push_back(&resume_stage_);
    }
    // Usage accounting reads what the client gets (after any rewrite: ids only).
    // (A client with a token budget is charged what was used: usage is read for it too.)
    ctx.counts_usage = (config_->config.metrics.usage || ctx.client) && method == "POST" &&
                       proxy::reports_usage(ctx.endpoint.rest);
    // A stream whose client did not ask for usage gets it asked for upstream, and taken out
    // again (the usage stage then transforms: not when the ids stage does already).
    bool streams_tokens = ctx.fields.stream && (ctx.endpoint.rest == "/chat/completions" ||
                                                ctx.endpoint.rest == "/completions");
    ctx.force_usage = ctx.counts_usage && config_->config.metrics.force_stream_usage &&
                      streams_tokens && !ctx.fields.include_usage && ctx.stages.empty();
    if (ctx.counts_usage) ctx.stages.push_back(&usage_stage_);
    return true;
  }

  // The attempt loop: each planned target's adapter builds the upstream request from the
  // original body, and the exchange runs. It stops once a response head reached the client
  // (or the client left). Before that, a failure the route's `retry` names sends the request
  // to the next target in rotation: a connect failure, a 5xx or 429 (held back, not relayed,
  // while another target may answer better), a connection broken before its head, no head
  // within first_byte. A streamed upload is tried elsewhere only when its connect failed
  // (its body was not read yet). Every outcome feeds the backend's breaker and back-off.
  awaitable<void> forward(request_context& ctx) {
    const auto& retry = *ctx.retry;
    auto plan_size = ctx.plan.size();
    unsigned max_tries = retry.attempts ? retry.attempts : static_cast<unsigned>(plan_size);
    for (std::size_t step = 0; ctx.attempts < max_tries && step < plan_size * max_tries; ++step) {
      auto index = step % plan_size;
      if (index < 64 && (ctx.refused_targets >> index & 1)) continue;
      const auto& attempt = ctx.plan[index];
      const auto& target = config_->targets[attempt.backend_index];
      auto& health = *target.health;
      // Out of rotation since the plan was made (its breaker opened, or this very request's
      // 429 backed it off): skipped without a connection attempt.
      using admission_t = upstream::backend_health::admission;
      auto admission = ctx.objects.backend ? admission_t::normal
                       : ctx.panic         ? admission_t::probe
                                           : health.admit();
      if (admission == admission_t::refused) continue;
      if (auto round = step / plan_size; round > 0) {  // a target tried already: pause first
        auto doubled = retry.backoff * (1u << std::min<std::size_t>(round - 1, 6));
        net::steady_timer pause(client_.get_executor(),
                                std::min<duration>(doubled, std::chrono::seconds(10)));
        co_await pause.async_wait(use_tuple);
      }
      ++ctx.attempts;
      bool may_try_again = ctx.attempts < max_tries && ctx.streamed_body_length == 0;
      bool taken = co_await exchange_with(ctx, attempt, may_try_again && retry.on_5xx,
                                          may_try_again && retry.on_429);
      if (!taken) {  // this target's adapter cannot take the request: the next one may
        --ctx.attempts;
        if (index < 64) ctx.refused_targets |= std::uint64_t(1) << index;
        if (ctx.resume) break;  // a continuation it cannot take: the stream's error event
        continue;
      }
      auto now = clock::now();
      const auto& result = ctx.result;
      if (result.client_gone && !result.head_sent) {
        if (ctx.resume) break;  // the client left a stream it had: a cut, below
        ctx.end = ending::client_gone;
        co_return;
      }
      // An event stream cut by its backend, on a route that resumes: it goes on at the next
      // try, or (not resumable, no try left) it ends with its error event after the loop.
      if (result.head_sent && ctx.resumable && resume_stage_.watching() && !result.complete &&
          !result.client_gone && result.cut != errc::ok) {
        bool shutting_down = result.cut == errc::shutting_down;  // not the backend's fault
        if (!shutting_down) health.failed(admission, now);
        if (try_resume(ctx, target, !shutting_down && ctx.attempts < max_tries)) continue;
        break;
      }
      if (result.head_sent || result.held) {
        bool failed = result.status >= 500 || (result.cut != errc::ok && !result.client_gone &&
                                               result.cut != errc::shutting_down);
        if (result.status == 429) {
          // It answers, so a probe closes its breaker; then the back-off it asked for.
          if (admission == admission_t::probe) health.succeeded(admission, now);
          health.back_off(result.backoff.value_or(std::chrono::seconds(1)), now);
        } else if (failed) {
          health.failed(admission, now);
        } else {
          health.succeeded(admission, now);
        }
        if (result.head_sent) {
          if (ctx.resume) ctx.result = merged_stream(ctx);
          ctx.end = ending::relayed;
          co_return;
        }
        ++stats_.failovers[target.slot];
        if (ctx.resume) continue;  // the client has its head: no other answer for it
        if (ctx.result.answer && ctx.result.answer->whole) {  // else an earlier one stays
          if (ctx.translator) translate_held(*ctx.translator, *ctx.result.answer);
          ctx.last_answer = std::move(ctx.result.answer);
          ctx.last_answer_backend = ctx.backend_index;
          ctx.has_last_answer = true;
        }
        continue;  // held only when another try may follow
      }
      if (ctx.end == ending::error) {  // the process's body budget refused the request
        if (!ctx.resume) co_return;
        ctx.end = ending::none;  // a continuation: the client has its head, it gets the event
        break;
      }
      auto e = result.error;
      bool backend_failed = e == errc::upstream_unreachable || e == errc::upstream_timeout ||
                            e == errc::upstream_broken;
      if (backend_failed) health.failed(admission, now);
      // A backend whose head arrived has answered (a body read before the head, then cut):
      // it may have done the work, so the request is not sent again.
      bool answered = result.first_byte != clock::time_point{};
      bool fail_over = (e == errc::upstream_unreachable && retry.on_connect) ||
                       (ctx.streamed_body_length == 0 && !answered &&
                        ((e == errc::upstream_timeout && retry.on_timeout) ||
                         (e == errc::upstream_broken && retry.on_5xx)));
      if (!fail_over) break;
      if (ctx.attempts < max_tries) ++stats_.failovers[target.slot];
    }
    if (ctx.resume) {  // the stream broke and could not go on: its error event, a cut
      ctx.result = merged_stream(ctx);
      ctx.result.complete = false;
      ctx.result.client_gone = ctx.result.client_gone || watch_->gone();
      if (!ctx.result.client_gone)
        ctx.result.error_event_sent = co_await proxy::write_stream_error(
            client_, deadline_, config_->config.timeouts.idle, ctx.result.cut, ctx.result.framing);
      ctx.end = ending::relayed;
      co_return;
    }
    if (ctx.has_last_answer) {  // every other try failed worse: the last backend's own answer
      ctx.backend_index = ctx.last_answer_backend;
      ctx.log.backend = config_->targets[ctx.backend_index].name;
      ctx.end = ending::held_answer;
      co_return;
    }
    if (ctx.attempts == 0) {  // no target could take the request, or all went out of rotation
      if (ctx.refusal != errc::ok)
        end_with_error(ctx, ctx.refusal, std::move(ctx.refusal_detail));
      else
        end_with_error(ctx, errc::no_backend);
      co_return;
    }
    // The last try's answer was held but not whole (over 64 KiB, or cut), and no try after
    // it answered: the gateway's own 502, never a "200" error.
    if (ctx.result.error == errc::ok) ctx.result.error = errc::upstream_broken;
    if (ctx.result.error == errc::request_timeout) {  // the client stalled in its streamed body
      end_with_error(ctx, ctx.result.error);
      co_return;
    }
    end_with_error(ctx, ctx.result.error, fmt::format("backend \"{}\"", ctx.log.backend));
  }

  // One attempt: `attempt`'s adapter writes the upstream request, and the exchange runs.
  // `hold_5xx` / `hold_429`: such an answer is held in ctx.result instead of relayed.
  awaitable<bool> exchange_with(request_context& ctx, const planned_attempt& attempt, bool hold_5xx,
                                bool hold_429) {
    auto& request = ctx.parser.get();
    auto method = request.method_string();
    const auto& target = config_->targets[attempt.backend_index];
    std::string_view request_model =
        attempt.upstream_model.empty() ? ctx.log.model : attempt.upstream_model;
    const auto& objects = ctx.objects;
    const std::string& body_sent = ctx.resume             ? ctx.resume->body
                                   : objects.body.empty() ? request.body()
                                                          : objects.body;
    std::string_view rest = objects.rest.empty() ? ctx.endpoint.rest : objects.rest;
    std::string_view query = objects.query.empty()
                                 ? std::string_view(ctx.query.data(), ctx.query.size())
                                 : objects.query;
    // Realtime: the backend reads the model from the query, so it gets exactly one, the
    // one the request was routed by (or the route's override of it).
    std::string realtime_query;
    if (ctx.websocket) {
      realtime_query = with_query_parameter(
          query, "model", attempt.upstream_model.empty() ? ctx.log.model : attempt.upstream_model);
      query = realtime_query;
    }
    // A translated backend's answer goes through its translation, then usage accounting
    // (which takes the provider's own counts); the stages that read or rewrite OpenAI's
    // shapes (object ids, resume) have nothing to do there.
    auto* translator =
        translators_.for_attempt(target.schema, ctx.endpoint.api, ctx.fields, request_model);
    bool tags_ids = !translator && !ctx.stages.empty() && ctx.stages.front() == &object_stage_;
    bool force_usage = ctx.force_usage && !translator;
    providers::upstream_call call{.method = {method.data(), method.size()},
                                  .rest = rest,
                                  .query = query,
                                  .client_headers = request.base(),
                                  .original_body = body_sent,
                                  .fields = ctx.resume ? ctx.resume->fields : ctx.fields,
                                  .client_model = ctx.log.model,
                                  .upstream_model = attempt.upstream_model,
                                  .identity_encoding = tags_ids || translator,
                                  .websocket = ctx.websocket,
                                  .streamed_body_length = ctx.streamed_body_length,
                                  .request_id = ctx.log.request_id,
                                  .force_usage = force_usage,
                                  .api = ctx.endpoint.api};
    std::string_view body;
    std::string detail;
    auto e = target.adapter->write_request(call, target, upstream_head_, ctx.upstream_body, body,
                                           detail);
    if (e != errc::ok) {  // this backend cannot take the request (its API has no such thing)
      ctx.refusal = e;
      ctx.refusal_detail = std::move(detail);
      co_return false;
    }
    // The attempt goes ahead: from here on, the request is this backend's.
    ctx.log.backend = target.name;
    ctx.backend_index = attempt.backend_index;
    ctx.request_model.assign(request_model);
    ctx.result = {};
    write_gateway_fields(ctx);
    ctx.translator = translator;
    ctx.translated_stages.clear();
    if (translator) {
      ctx.translated_stages.push_back(translator);
      if (ctx.counts_usage) ctx.translated_stages.push_back(&usage_stage_);
    }
    if (tags_ids)
      object_stage_.prepare(config_->affinity, attempt.backend_index,
                            ctx.client ? std::string_view(ctx.client->config.name) : "");
    if (ctx.counts_usage)
      usage_stage_.prepare(force_usage, config_->config.response_headers, translator);
    // A rewritten body is held too.
    if (!ctx.reserved.grow_to(
            request.body().capacity() + objects.body.capacity() + ctx.upstream_body.capacity() +
            (ctx.resume ? ctx.resume->body.capacity() : 0) + (ctx.resumable ? kResumeHeld : 0))) {
      end_with_error(ctx, errc::overloaded);
      co_return true;
    }
    ctx.result = co_await proxy::forward(
        client_, deadline_, *watch_,
        {.head = upstream_head_,
         .body = body,
         .head_request = ctx.head_request,
         .idempotent = is_idempotent(request.method()),
         .target = target,
         .backend_slot = target.slot,
         .client_keep_alive = ctx.keep_alive,
         .draining = &sessions_.draining,
         .client_version = ctx.version,
         .response_head = response_head_,
         .stats = stats_,
         .stages = ctx.translator ? proxy::response_stages(ctx.translated_stages)
                                  : proxy::response_stages(ctx.stages),
         .gateway_fields = gateway_fields_,
         .websocket = ctx.websocket,
         .client_buffer = &buffer_,
         .streamed_body_length = ctx.streamed_body_length,
         .hold_5xx = hold_5xx,
         .hold_429 = hold_429,
         .defer_error_event = ctx.resumable,
         .continuation = ctx.resume != nullptr,
         .continuation_framing =
             ctx.resume ? ctx.resume->stream.framing : proxy::body_framing::chunked,
         .api = ctx.endpoint.api},
        pool_);
    ctx.log.first_byte = ctx.result.first_byte;
    ctx.body_unread = ctx.result.client_body_unread;
    co_return true;
  }

  // A held answer of a translated backend, as the client's API has it: through the same
  // stage as a relayed one.
  static void translate_held(proxy::response_stage& translator, proxy::held_answer& answer) {
    translator.on_head(answer.head);
    auto* out = translator.output();
    if (!out) return;
    translator.client_head(answer.head);
    translator.on_data(answer.body);
    translator.on_end(true);
    answer.body.swap(*out);
    out->clear();
  }

  // A stream relayed from `target` broke (the backend cut it, stalled, or sent an error
  // event) before its end: when it can go on and another try may follow, the next try is a
  // continuation (the answer so far as an assistant message, then an instruction to go
  // on), relayed into the same response. Returns whether it will be; when not, the loop
  // ends the stream with its error event (the exchange deferred it).
  bool try_resume(request_context& ctx, const upstream::target& target, bool may_try_again) {
    const auto& result = ctx.result;
    // The broken stream's result, with what earlier pieces of it relayed.
    if (!ctx.resume) {
      ctx.resume = std::make_unique<request_context::resume_state>();
      ctx.resume->stream = std::move(ctx.result);
    } else {
      ctx.resume->stream.body_bytes += result.body_bytes;
      ctx.resume->stream.cut = result.cut;
    }
    if (ctx.counts_usage) ctx.resumed_events += usage_stage_.data_events();
    bool go_on = may_try_again && resume_stage_.resumable() && continuation_request(ctx);
    ctx.result = {};
    if (!go_on) return false;
    ++ctx.resumes;
    ++stats_.stream_resumes[target.slot];
    resume_stage_.continue_stream();
    return true;
  }

  // The continuation request: the client's body with two more messages, the answer so far
  // (as the assistant's) and a user message asking to go on from exactly there.
  bool continuation_request(request_context& ctx) {
    static constexpr std::string_view kGoOn =
        "Your previous reply was cut off. Continue it from exactly where it stopped: no "
        "preamble, and do not repeat anything already written.";
    boost::system::error_code ec;
    auto doc = boost::json::parse(ctx.parser.get().body(), ec);
    auto* object = ec ? nullptr : doc.if_object();
    auto* messages = object ? object->if_contains("messages") : nullptr;
    if (!messages || !messages->is_array()) return false;
    auto& list = messages->as_array();
    list.push_back({{"role", "assistant"}, {"content", resume_stage_.relayed_text()}});
    list.push_back({{"role", "user"}, {"content", kGoOn}});
    auto text = boost::json::serialize(doc);
    auto& resume = *ctx.resume;
    resume.body.clear();
    resume.body.reserve(text.size() + json::parse_padding);
    resume.body.append(text);
    resume.fields = {};
    return json::extract_request_fields(resume.body, resume.fields) == errc::ok;
  }

  // The client's response: the broken stream, and what its continuation relayed.
  static proxy::exchange_result merged_stream(request_context& ctx) {
    auto merged = std::move(ctx.resume->stream);
    bool relayed = ctx.result.head_sent && !ctx.result.held;
    merged.body_bytes += relayed ? ctx.result.body_bytes : 0;
    merged.complete = relayed && ctx.result.complete;
    merged.client_keep_alive = merged.complete && ctx.result.client_keep_alive;
    merged.client_gone = ctx.result.client_gone;
    merged.error_event_sent = ctx.result.error_event_sent;
    return merged;
  }

  // Response headers that explain the routing: the request id always; the backend, route
  // and tries unless response_headers is off.
  void write_gateway_fields(const request_context& ctx) {
    gateway_fields_.clear();
    fmt::format_to(std::back_inserter(gateway_fields_), "x-aigw-request-id: {}\r\n",
                   ctx.log.request_id);
    if (config_->config.response_headers)
      fmt::format_to(std::back_inserter(gateway_fields_),
                     "x-aigw-backend: {}\r\nx-aigw-route: {}\r\nx-aigw-attempts: {}\r\n",
                     ctx.log.backend, ctx.log.route, ctx.attempts);
  }

  // The one exit: the local reply or error, the log line, and keep-alive, a clean close or a
  // reset. Returns whether the connection stays open for another request.
  awaitable<bool> finish(request_context& ctx) {
    auto& log = ctx.log;
    // Unread body bytes would be taken for the next request: the connection ends here.
    if (ctx.body_unread) ctx.keep_alive = false;
    switch (ctx.end) {
      case ending::none:  // every phase went on, yet nothing answered: a bug, never a hang
      case ending::quiet:
        co_return false;
      case ending::client_gone:
        log.status = 499;  // nginx's "client closed request": no response was sent
        log.complete = false;
        log.ended_by = "client";
        finish_log(ctx);
        co_return false;
      case ending::relayed:
        log.status = ctx.result.status;
        log.bytes = ctx.result.body_bytes;
        log.complete = ctx.result.complete;
        if (!log.complete) log.ended_by = ctx.result.client_gone ? "client" : "upstream";
        finish_log(ctx);
        // After the head was sent, an incomplete body can only be signalled by closing, and
        // with a reset: a FIN would look like a clean end to a client reading to EOF.
        if (!ctx.result.complete) abort_on_close_ = true;
        co_return ctx.result.complete&& ctx.result.client_keep_alive;
      case ending::local_reply: {
        http::response<http::string_body> response{http::status::ok, ctx.version};
        response.set(http::field::content_type, "application/json");
        response.set("x-request-id", log.request_id);
        response.body() = std::move(ctx.reply_body);
        bool keep_alive = ctx.keep_alive && !draining();
        response.keep_alive(keep_alive);
        response.prepare_payload();
        log.status = response.result_int();
        deadline_.expires_after(config_->config.timeouts.idle);
        auto ec = co_await write_local(response, ctx.head_request);
        deadline_.expires_never();
        log.bytes = ec || ctx.head_request ? 0 : response.body().size();
        finish_log(ctx);
        co_return !ec && keep_alive;
      }
      case ending::held_answer: {
        const auto& answer = *ctx.last_answer;
        write_gateway_fields(ctx);
        bool keep_alive = ctx.keep_alive && !ctx.body_unread && !draining();
        auto reason = answer.head.reason();
        proxy::write_client_response_head(answer.head.result_int(), {reason.data(), reason.size()},
                                          answer.head, proxy::body_framing::content_length,
                                          answer.body.size(), keep_alive, ctx.version,
                                          response_head_, gateway_fields_);
        std::array<net::const_buffer, 2> out{
            net::buffer(response_head_),
            net::buffer(answer.body.data(), ctx.head_request ? 0 : answer.body.size())};
        deadline_.expires_after(config_->config.timeouts.idle);
        auto [ec, n] = co_await net::async_write(client_, out, use_tuple);
        deadline_.expires_never();
        log.status = answer.head.result_int();
        log.bytes = ec || ctx.head_request ? 0 : answer.body.size();
        finish_log(ctx);
        co_return !ec && keep_alive;
      }
      case ending::error: {
        bool keep_alive = ctx.keep_alive && !closes_connection(ctx.error) && !draining();
        log.bytes = co_await reply_error(ctx, keep_alive);
        log.status = static_cast<unsigned>(http_status(ctx.error));
        finish_log(ctx);
        co_return keep_alive;
      }
    }
    co_return false;
  }

  bool draining() const { return sessions_.draining; }

  // The worker-wide slot of a backend of this request's config (counters, pool).
  std::size_t slot_of(std::size_t backend_index) const {
    return backend_index == metrics::kNoBackend ? backend_index
                                                : config_->targets[backend_index].slot;
  }

  // How a phase ends a request (it returns false: no later phase runs).
  static bool end_with_error(request_context& ctx, errc e, std::string detail = {}) {
    ctx.end = ending::error;
    ctx.error = e;
    ctx.detail = std::move(detail);
    return false;
  }
  static bool end_with_reply(request_context& ctx, std::string body) {
    ctx.end = ending::local_reply;
    ctx.reply_body = std::move(body);
    return false;
  }
  static bool end_quietly(request_context& ctx) {
    ctx.end = ending::quiet;
    return false;
  }

  // Returns the body bytes sent.
  awaitable<std::uint64_t> reply_error(const request_context& ctx, bool keep_alive) {
    http::response<http::string_body> response{http_status(ctx.error), ctx.version};
    response.set(http::field::content_type, "application/json");
    response.set("x-request-id", ctx.log.request_id);
    response.set("proxy-status",
                 fmt::format("aigw-proxy; error={}", proxy_status_token(ctx.error)));
    if (response.result() == http::status::service_unavailable ||
        response.result() == http::status::bad_gateway ||
        response.result() == http::status::gateway_timeout)
      response.set(http::field::retry_after, "1");
    if (ctx.error == errc::rate_limited) {  // OpenAI's rate limit headers, for the spent limit
      const auto& a = ctx.admission;
      auto seconds = std::to_string(a.reset.count());
      response.set(http::field::retry_after, seconds);
      response.set(fmt::format("x-ratelimit-limit-{}", a.limit), std::to_string(a.limit_value));
      response.set(fmt::format("x-ratelimit-remaining-{}", a.limit), std::to_string(a.remaining));
      response.set(fmt::format("x-ratelimit-reset-{}", a.limit), seconds + "s");
    }
    response.body() = render_error_json(ctx.error, ctx.detail, ctx.endpoint.api);
    response.keep_alive(keep_alive);
    response.prepare_payload();
    deadline_.expires_after(config_->config.timeouts.client_header);
    auto ec = co_await write_local(response, ctx.head_request);
    if (!keep_alive) co_await linger();
    co_return ec || ctx.head_request ? 0 : response.body().size();
  }

  // A reply of the gateway's own; to a HEAD request, without its body (Content-Length kept).
  awaitable<error_code> write_local(http::response<http::string_body>& response, bool head_only) {
    http::response_serializer<http::string_body> serializer{response};
    auto [ec, n] = head_only ? co_await http::async_write_header(client_, serializer, use_tuple)
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

  // The access-log line and the worker's counters: once per request that got an answer.
  void finish_log(const request_context& ctx) {
    charge_client(ctx);
    stats_.record_request(ctx.log.route, slot_of(ctx.backend_index), ctx.log.status);
    if (ctx.end == ending::error) stats_.record_local_error(ctx.error);
    record_gen_ai(ctx);
    if (config_->config.access_log) write_access_log(ctx);
  }

  // The GenAI metrics of a request that was routed to a backend: its duration, and for the
  // APIs that report usage, its tokens (or usage missing), time to first token and time per
  // output token.
  void record_gen_ai(const request_context& ctx) {
    if (ctx.backend_index == metrics::kNoBackend) return;
    const auto& target = config_->targets[ctx.backend_index];
    auto label = [&](std::string_view model) {
      return stats_.model_label(model, config_->known_models.contains(model),
                                config_->config.metrics.max_models);
    };
    bool read_usage = ctx.counts_usage && ctx.end == ending::relayed;
    const auto& usage = usage_stage_.usage();
    metrics::gen_ai_labels labels{
        .operation = std::string(operation_name(ctx.endpoint.rest)),
        .provider = std::string(provider_name(target.schema)),
        .original_model = label(ctx.log.model),
        .request_model = label(ctx.request_model),
        .response_model =
            label(read_usage && !usage.model.empty() ? usage.model : ctx.request_model),
        .error_type = error_type(ctx)};
    auto& series = stats_.gen_ai[labels];
    auto now = clock::now();
    series.request_duration.observe(seconds(ctx.log.start, now), metrics::kDurationBounds);
    if (!read_usage) return;
    auto first = usage_stage_.first_byte();
    if (usage_stage_.streamed() && first != clock::time_point{})
      series.time_to_first_token.observe(seconds(ctx.log.start, first),
                                         metrics::kTimeToFirstTokenBounds);
    if (!usage.found) {
      if (ctx.log.status >= 200 && ctx.log.status < 300) ++stats_.usage_missing[target.slot];
      return;
    }
    using metrics::token_type;
    auto observe = [&](token_type t, std::uint64_t n) {
      series.tokens[static_cast<std::size_t>(t)].observe(static_cast<double>(n),
                                                         metrics::kTokenBounds);
    };
    observe(token_type::input, usage.input);
    observe(token_type::output, usage.output);
    if (usage.cached_input) observe(token_type::cached_input, usage.cached_input);
    if (usage.cache_creation_input)
      observe(token_type::cache_creation_input, usage.cache_creation_input);
    if (usage.reasoning) observe(token_type::reasoning, usage.reasoning);
    record_cost(ctx, labels.request_model, usage);
    if (usage_stage_.streamed() && first != clock::time_point{} && usage.output > 1)
      series.time_per_output_token.observe(
          seconds(first, now) / static_cast<double>(usage.output - 1),
          metrics::kTimePerOutputTokenBounds);
  }

  // The request's access-log line, with its usage when it counts any.
  void write_access_log(const request_context& ctx) {
    auto log = ctx.log;  // small: the strings are short
    log.counts_usage = ctx.counts_usage && ctx.end == ending::relayed;
    if (log.counts_usage) {
      const auto& usage = usage_stage_.usage();
      log.usage_found = usage.found;
      log.input_tokens = usage.input;
      log.output_tokens = usage.output;
      log.cached_tokens = usage.cached_input;
    }
    if (ctx.end == ending::error) log.error = openai_code(ctx.error);
    log.bytes_in =
        ctx.streamed_body_length ? ctx.streamed_body_length : ctx.parser.get().body().size();
    log.upstream_request_id = ctx.result.upstream_request_id;
    log.attempts = ctx.attempts;
    log.resumes = ctx.resumes;
    log.error_event = ctx.result.error_event_sent;
    format_access_line(log, config_->config.access_log_json, access_line_);
    log::access_sink::instance().write(access_line_);
  }

  // What the tokens cost, by the first price whose glob matches the model sent upstream.
  void record_cost(const request_context& ctx, const std::string& model_label,
                   const json::usage_reading& usage) {
    for (const auto& price : config_->config.prices) {
      if (!routing::glob_match(price.model, ctx.request_model)) continue;
      auto cached = std::min(usage.cached_input, usage.input);
      double usd = (static_cast<double>(usage.input - cached) * price.input +
                    static_cast<double>(cached) * price.cached_input +
                    static_cast<double>(usage.output) * price.output) /
                   1e6;
      stats_.cost_usd[{ctx.log.route, slot_of(ctx.backend_index), model_label}] += usd;
      return;
    }
  }

  static double seconds(clock::time_point from, clock::time_point to) {
    return std::chrono::duration<double>(to - from).count();
  }

  // gen_ai.operation.name of an API path (after /v1).
  static std::string_view operation_name(std::string_view rest) {
    if (rest == "/chat/completions") return "chat";
    if (rest == "/completions") return "completion";
    if (rest == "/embeddings") return "embeddings";
    if (rest.starts_with("/responses")) return "responses";
    if (rest.starts_with("/realtime")) return "realtime";
    if (rest.starts_with("/images")) return "image_generation";
    if (rest.starts_with("/audio")) return "audio";
    return "other";
  }

  // gen_ai.provider.name of a backend schema (OpenTelemetry's well-known values).
  static std::string_view provider_name(config::schema schema) {
    switch (schema) {  // OpenTelemetry's gen_ai.provider.name values
      case config::schema::azure_openai:
        return "azure.ai.openai";
      case config::schema::anthropic:
        return "anthropic";
      case config::schema::bedrock:
        return "aws.bedrock";
      case config::schema::openai:
        break;
    }
    return "openai";
  }

  // error.type: the gateway's error code, the upstream's status when it is not a success, or
  // "incomplete" for a response cut short; empty for success.
  static std::string error_type(const request_context& ctx) {
    if (ctx.end == ending::error) return std::string(openai_code(ctx.error));
    if (ctx.end == ending::client_gone) return "client_closed";
    if (ctx.log.status >= 400) return std::to_string(ctx.log.status);
    if (!ctx.log.complete) return "incomplete";
    return {};
  }

  // Read-ahead allowed past the header limit; bounds what a peer can make the buffer hold
  // (Beast bounds neither a chunk-size line nor trailers).
  static constexpr std::size_t kReadAhead = 64 * 1024;
  // The first block of a request body, and the least it grows by.
  static constexpr std::size_t kBodyStep = 64 * 1024;
  // The most a resumable stream's stage holds (proxy::resume_stage).
  static constexpr std::size_t kResumeHeld =
      proxy::resume_stage::kMaxRelayed + proxy::resume_stage::kMaxEvent;
  // Bodies that are not JSON and declare more than this stream to the backend (never held).
  static constexpr std::uint64_t kStreamBodyOver = 1u << 20;

  tcp::socket client_;
  deadline deadline_;
  beast::flat_buffer buffer_;
  bool abort_on_close_ = false;  // a response was cut short: close with a reset
  // Message heads the gateway writes, reused from request to request (no allocation once
  // they have grown to the largest head seen).
  std::string upstream_head_;
  std::string response_head_;
  std::string gateway_fields_;
  std::string access_line_;
  // The response stages, reused from request to request (warm buffers).
  proxy::object_id_stage object_stage_;
  proxy::usage_stage usage_stage_;
  proxy::resume_stage resume_stage_;
  providers::translators translators_;
  std::shared_ptr<proxy::client_watch> watch_;
  std::shared_ptr<const proxy::snapshot> config_;
  upstream::connection_pool& pool_;
  process_budget& budget_;
  metrics::worker_stats& stats_;
  worker_sessions& sessions_;
  proxy::client_budgets& client_budgets_;
  worker_sessions::waiting_client waiting_;  // linked while waiting for a request
  unsigned requests_read_ = 0;
};

}  // namespace

void worker_sessions::close_waiting() {
  for (auto& w : waiting) {
    error_code ec;
    if (w.buffer->size() == 0 && w.socket->available(ec) == 0 && !ec) w.socket->cancel(ec);
  }
}

awaitable<void> run_session(tcp::socket socket, std::shared_ptr<const proxy::snapshot> config,
                            worker_resources resources) {
  session s(std::move(socket), std::move(config), resources);
  co_await s.run();
}

}  // namespace aigw::server
