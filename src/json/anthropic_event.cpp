#include "aigw/json/anthropic_event.hpp"

#include <simdjson.h>

#include "aigw/json/model_extractor.hpp"
#include "ondemand_util.hpp"

namespace aigw::json {
namespace {

namespace od = simdjson::ondemand;
using simdjson::SUCCESS;

struct reader {
  const char* base;
  anthropic_event& out;

  // A string value's raw token (quotes included); empty when it is not a string.
  std::string_view token(od::value value) { return raw_string(value, base); }
  std::string_view plain(od::value value) { return plain_string(value, base); }
  static std::int64_t count(od::value value) { return token_count(value); }

  simdjson::error_code usage(od::value value) {
    od::object object;
    if (value.get_object().get(object) != SUCCESS) return SUCCESS;  // null
    for (auto field : object) {
      std::string_view key;
      if (auto e = field.unescaped_key().get(key)) return e;
      od::value v;
      if (auto e = field.value().get(v)) return e;
      if (key == "input_tokens")
        out.usage.input = count(v);
      else if (key == "output_tokens")
        out.usage.output = count(v);
      else if (key == "cache_read_input_tokens")
        out.usage.cache_read = count(v);
      else if (key == "cache_creation_input_tokens")
        out.usage.cache_creation = count(v);
    }
    return SUCCESS;
  }

  static anthropic_event::block block_kind(std::string_view type) {
    using block = anthropic_event::block;
    if (type == "text" || type == "text_delta") return block::text;
    if (type == "tool_use" || type == "input_json_delta") return block::tool_use;
    if (type == "thinking" || type == "thinking_delta") return block::thinking;
    return block::other;  // signature_delta, redacted_thinking, server tools
  }

  // "message" (message_start), "content_block" (block_start), "delta" and "error": one
  // level of fields, the only ones the translation reads.
  simdjson::error_code inner(od::value value, bool error_object) {
    od::object object;
    if (value.get_object().get(object) != SUCCESS) return SUCCESS;
    for (auto field : object) {
      std::string_view key;
      if (auto e = field.unescaped_key().get(key)) return e;
      od::value v;
      if (auto e = field.value().get(v)) return e;
      if (key == "type") {
        if (error_object)
          out.error_type = plain(v);
        else
          out.what = block_kind(plain(v));
      } else if (key == "message" && error_object) {
        out.message = token(v);
      } else if (key == "id") {
        out.id = token(v);
      } else if (key == "model") {
        out.model = token(v);
      } else if (key == "name") {
        out.name = token(v);
      } else if (key == "text" || key == "partial_json" || key == "thinking") {
        out.text = token(v);
      } else if (key == "stop_reason") {
        out.stop_reason = plain(v);
      } else if (key == "usage") {
        if (auto e = usage(v)) return e;
      }
    }
    return SUCCESS;
  }
};

anthropic_event::kind event_kind(std::string_view type) {
  using kind = anthropic_event::kind;
  if (type == "message_start") return kind::message_start;
  if (type == "content_block_start") return kind::block_start;
  if (type == "content_block_delta") return kind::block_delta;
  if (type == "content_block_stop") return kind::block_stop;
  if (type == "message_delta") return kind::message_delta;
  if (type == "message_stop") return kind::message_stop;
  if (type == "error") return kind::error;
  return kind::other;
}

}  // namespace

bool read_anthropic_event(const std::string& data, anthropic_event& out) {
  thread_local od::parser parser;  // per worker thread: keeps its buffers
  out = {};
  if (data.capacity() < data.size() + parse_padding) return false;
  od::document doc;
  if (parser.iterate(simdjson::padded_string_view(data.data(), data.size(), data.capacity()))
          .get(doc))
    return false;
  od::object object;
  if (doc.get_object().get(object)) return false;
  reader r{data.data(), out};
  bool typed = false;
  // The members that hold what the event's type needs; their order in the object is free.
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return false;
    od::value v;
    if (field.value().get(v)) return false;
    if (key == "type") {
      auto type = r.plain(v);
      if (type.empty()) return false;
      out.type = event_kind(type);
      typed = true;
    } else if (key == "index") {
      if (v.get_uint64().get(out.index) != SUCCESS) return false;
    } else if (key == "message" || key == "content_block" || key == "delta" || key == "error") {
      if (r.inner(v, key == "error")) return false;
    } else if (key == "usage") {
      if (r.usage(v)) return false;
    }
  }
  return typed;
}

}  // namespace aigw::json
