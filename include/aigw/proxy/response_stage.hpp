#pragma once
// A response stage: a step of the relay that reads, or rewrites, the body a client receives.
// Usage accounting reads it; an API translation (Anthropic, Bedrock) rewrites it. With no
// stage at all the relay sends the upstream's bytes as they arrived, framing included: the
// identity stage is the absence of stages, and costs nothing.
//
// A response's stages run in order, each seeing what the one before it produced. At most one
// of them transforms, and it comes first: the others read what the client receives (the
// body without its chunk framing), so there is one place that decides what is sent and every
// reader agrees with it.
//
// The relay calls, for a response whose head was relayed:
//   on_head   once, before the client's response head is written;
//   on_data   for each piece of the body, in order, as it arrives (an SSE event may be split
//             over any number of pieces, and one piece may hold many events);
//   on_end    once, with complete == false when the relay ended early (the upstream cut the
//             body or timed out, the client left).
// A read-only stage is given the bytes after their write to the client was started: it reads
// the relay's own buffer, in place, and never delays a byte. A transforming stage appends
// what to send instead to output(); the relay sends it and clears it, so a stage that holds
// a partial event sends nothing until the event is whole. Its length is unknown in advance,
// so the client gets chunked framing (or, if HTTP/1.0, a body delimited by the close).
// Stages must not allocate per piece once warm: output() keeps its capacity.
// A WebSocket tunnel (Realtime) has no stages: after its 101 the bytes are the two ends'.
#include <span>
#include <string>
#include <string_view>

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>

#include "aigw/json/usage_scan.hpp"

namespace aigw::proxy {

class response_stage {
 public:
  virtual ~response_stage() = default;

  virtual void on_head(const boost::beast::http::response_header<>& head) = 0;
  virtual void on_data(std::string_view bytes) = 0;
  // For a transforming stage, complete == true is its last chance to add to output().
  virtual void on_end(bool complete) = 0;

  // The bytes a transforming stage sends in place of what it was given; nullptr for a stage
  // that only reads. Asked after on_head, so a stage may decline a response it does not
  // rewrite (another status, another content type).
  virtual std::string* output() { return nullptr; }
  // A transforming stage that found the body to be a failure (a stream's error event): the
  // relay sends what output() holds, then treats the response as cut by the upstream.
  virtual bool failed() const { return false; }
  // ... and whether that output ended with an error event of its own (a translated one),
  // so the relay adds none.
  virtual bool wrote_error_event() const { return false; }

  // A transforming stage that translates may change the head the client gets (its status
  // and Content-Type); asked after on_head, before the stages that read see the head.
  virtual void client_head(boost::beast::http::response_header<>& /*head*/) {}
  // A transforming stage whose output comes whole at the body's end (a translated JSON
  // message) has the client's head held until then, when final_status() may still change its
  // status (the answer could not be translated: a 502, not a 200 with an error body).
  virtual bool answers_at_end() const { return false; }
  virtual unsigned final_status() const { return 0; }  // 0: as client_head() set it
  // The token counts a translating stage read in the provider's own response, which the
  // client may not get (a stream without stream_options.include_usage); nullptr for none.
  virtual const json::usage_reading* reported_usage() const { return nullptr; }

  // A stage that puts what it read into the response head (usage headers) wants the body
  // whole before the head goes. The relay obliges for a small Content-Length body (up to
  // kMaxBodyBeforeHead) that no stage transforms: it reads the body first, runs on_data and
  // on_end(true), then asks head_fields() ("Name: value\r\n" lines) for the head.
  virtual bool wants_body_before_head() const { return false; }
  virtual void head_fields(std::string& /*out*/) const {}
  static constexpr std::size_t kMaxBodyBeforeHead = 256u << 10;
};

// A response's stages, in order; they outlive the exchange.
using response_stages = std::span<response_stage* const>;

// Whether a Content-Type is the media type `type` (case-insensitive, parameters allowed after
// it): "application/json; charset=utf-8" is application/json, "application/jsonl" is not.
bool is_media_type(std::string_view content_type, std::string_view type) noexcept;

}  // namespace aigw::proxy
