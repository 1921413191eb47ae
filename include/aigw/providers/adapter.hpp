#pragma once
// A backend schema's adapter: everything that differs between the APIs the gateway speaks
// upstream, in one place per schema. It owns the upstream request line (path and query),
// the credential header and the body sent (the model override included); the response head,
// body stage and error body come with the translating schemas (Anthropic, Bedrock).
//
// One stateless adapter per schema, looked up once per backend when the config snapshot is
// compiled. An attempt asks its target's adapter for the request, always from the client's
// original body, so that another attempt (on another backend) starts from it again.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include <boost/beast/http/fields.hpp>

#include "aigw/config/config.hpp"
#include "aigw/core/errc.hpp"
#include "aigw/json/model_extractor.hpp"
#include "aigw/upstream/target.hpp"

namespace aigw::providers {

// What an attempt sends: the client's request as read and inspected, and the model the
// route sends upstream.
struct upstream_call {
  std::string_view method;
  std::string_view rest;   // the path after /v1, e.g. "/chat/completions"
  std::string_view query;  // "" or "?..."
  const boost::beast::http::fields& client_headers;
  const std::string& original_body;    // as the client sent it, never changed
  const json::request_fields& fields;  // where the model is in the original body
  std::string_view client_model;       // the body's model or the x-ai-eg-model header
  std::string_view upstream_model;     // the route's override; empty: the client's
  bool identity_encoding = false;      // a response stage reads the body: ask for it unencoded
  bool websocket = false;              // a WebSocket upgrade, tunnelled after the 101
  // A body that streams from the client after the head (its declared length): the
  // original body is then empty, and nothing rewrites it.
  std::uint64_t streamed_body_length = 0;
  std::string_view request_id = {};  // sent upstream as x-request-id, in place of the client's
  // Ask the backend for usage on this stream (stream_options.include_usage), which the client
  // did not: the usage stage takes it out again before the client sees it.
  bool force_usage = false;
  client_api api = client_api::openai;  // the API the client speaks (its path says)
  std::string_view model() const { return upstream_model.empty() ? client_model : upstream_model; }
};

class adapter {
 public:
  virtual ~adapter() = default;

  // The credential header for a backend key: {name, value}.
  virtual std::pair<std::string, std::string> credential(const std::string& api_key) const = 0;

  // Writes the upstream request head into `head` and returns the body to send: the original
  // body itself, or `scratch` holding a rewritten one. On an error (errc::unsafe_model_name,
  // errc::bad_request) nothing is to be sent and `detail` says why.
  virtual errc write_request(const upstream_call& call, const upstream::target& target,
                             std::string& head, std::string& scratch, std::string_view& body,
                             std::string& detail) const = 0;

 protected:
  // The body with the model overridden, or the original one (no copy) without an override.
  static std::string_view body_for(const upstream_call& call, std::string& scratch);
  // For the OpenAI-compatible schemas: the operation (the path after /v1) and body to send.
  // An OpenAI client's own, with the model overridden (body_for); an Anthropic client's
  // /messages as chat completions (anthropic::messages_to_chat, in `scratch`). Its
  // count_tokens has no counterpart: errc::not_found, and `detail` says so.
  static errc openai_operation(const upstream_call& call, const upstream::target& target,
                               std::string& scratch, std::string_view& rest, std::string_view& body,
                               std::string& detail);
  // The head after the request target: the line's end, the header policy, Host, the
  // backend's credentials, `extra_fields` ("Name: value\r\n" lines) and Content-Length.
  // `target_start` is where the target begins.
  // `translated`: the body is the adapter's own JSON (Content-Type: application/json).
  static errc finish_head(const upstream_call& call, const upstream::target& target,
                          std::size_t target_start, std::uint64_t body_size, std::string& head,
                          std::string& detail, std::string_view extra_fields = {},
                          bool translated = false);
};

// The adapter of a schema (static, stateless).
const adapter& adapter_for(config::schema schema) noexcept;

}  // namespace aigw::providers
