#include "aigw/json/chat_chunk.hpp"

#include <simdjson.h>

#include "aigw/json/model_extractor.hpp"
#include "ondemand_util.hpp"

namespace aigw::json {
namespace {

namespace od = simdjson::ondemand;
using simdjson::SUCCESS;

struct reader {
  const char* base;
  chat_chunk& out;

  std::string_view token(od::value value) { return raw_string(value, base); }
  std::string_view plain(od::value value) { return plain_string(value, base); }
  static std::int64_t count(od::value value) { return token_count(value); }

  simdjson::error_code tool_call(od::value value) {
    od::object object;
    if (value.get_object().get(object) != SUCCESS) return SUCCESS;
    if (out.tool_call_count == out.tool_calls.size()) return SUCCESS;
    auto& call = out.tool_calls[out.tool_call_count++];
    call = {};
    call.index = out.tool_call_count - 1;
    for (auto field : object) {
      std::string_view key;
      if (auto e = field.unescaped_key().get(key)) return e;
      od::value v;
      if (auto e = field.value().get(v)) return e;
      if (key == "index") {
        std::uint64_t index = 0;
        if (v.get_uint64().get(index) == SUCCESS) call.index = index;
      } else if (key == "id") {
        call.id = token(v);
      } else if (key == "function") {
        od::object function;
        if (v.get_object().get(function) != SUCCESS) continue;
        for (auto f : function) {
          std::string_view fkey;
          if (auto e = f.unescaped_key().get(fkey)) return e;
          od::value fv;
          if (auto e = f.value().get(fv)) return e;
          if (fkey == "name")
            call.name = token(fv);
          else if (fkey == "arguments")
            call.arguments = token(fv);
        }
      }
    }
    return SUCCESS;
  }

  simdjson::error_code delta(od::value value) {
    od::object object;
    if (value.get_object().get(object) != SUCCESS) return SUCCESS;
    for (auto field : object) {
      std::string_view key;
      if (auto e = field.unescaped_key().get(key)) return e;
      od::value v;
      if (auto e = field.value().get(v)) return e;
      if (key == "content") {
        out.content = token(v);
      } else if (key == "reasoning_content" || key == "reasoning") {
        out.reasoning = token(v);
      } else if (key == "tool_calls") {
        od::array calls;
        if (v.get_array().get(calls) != SUCCESS) continue;
        for (auto call : calls) {
          od::value c;
          if (auto e = call.get(c)) return e;
          if (auto e = tool_call(c)) return e;
        }
      }
    }
    return SUCCESS;
  }

  simdjson::error_code choices(od::value value) {
    od::array list;
    if (value.get_array().get(list) != SUCCESS) return SUCCESS;
    for (auto item : list) {
      od::object choice;
      if (item.get_object().get(choice) != SUCCESS) continue;
      std::uint64_t index = 0;
      bool first = true;
      for (auto field : choice) {
        std::string_view key;
        if (auto e = field.unescaped_key().get(key)) return e;
        od::value v;
        if (auto e = field.value().get(v)) return e;
        if (key == "index") {
          if (v.get_uint64().get(index) != SUCCESS) index = 0;
          first = index == 0;
        } else if (!first) {
          continue;  // another choice (n > 1): not this translation's
        } else if (key == "delta") {
          if (auto e = delta(v)) return e;
        } else if (key == "finish_reason") {
          out.finish_reason = plain(v);
        }
      }
    }
    return SUCCESS;
  }

  simdjson::error_code usage(od::value value) {
    od::object object;
    if (value.get_object().get(object) != SUCCESS) return SUCCESS;  // null
    for (auto field : object) {
      std::string_view key;
      if (auto e = field.unescaped_key().get(key)) return e;
      od::value v;
      if (auto e = field.value().get(v)) return e;
      if (key == "prompt_tokens") {
        out.prompt_tokens = count(v);
      } else if (key == "completion_tokens") {
        out.completion_tokens = count(v);
      } else if (key == "prompt_tokens_details") {
        od::object details;
        if (v.get_object().get(details) != SUCCESS) continue;
        for (auto d : details) {
          std::string_view dkey;
          if (auto e = d.unescaped_key().get(dkey)) return e;
          od::value dv;
          if (auto e = d.value().get(dv)) return e;
          if (dkey == "cached_tokens") out.cached_tokens = count(dv);
        }
      }
    }
    return SUCCESS;
  }

  // An error object, or a message string; "error": null (some servers send it on every
  // chunk) is none.
  simdjson::error_code error(od::value value) {
    od::object object;
    if (value.get_object().get(object) != SUCCESS) {
      out.error_message = token(value);  // {"error":"..."}
      out.error = !out.error_message.empty();
      return SUCCESS;
    }
    out.error = true;
    for (auto field : object) {
      std::string_view key;
      if (auto e = field.unescaped_key().get(key)) return e;
      od::value v;
      if (auto e = field.value().get(v)) return e;
      if (key == "message") out.error_message = token(v);
    }
    return SUCCESS;
  }
};

}  // namespace

bool read_chat_chunk(const std::string& data, chat_chunk& out) {
  thread_local od::parser parser;  // per worker thread: keeps its buffers
  out.error = false;
  out.error_message = out.id = out.model = out.content = out.reasoning = out.finish_reason = {};
  out.tool_call_count = 0;
  out.prompt_tokens = out.completion_tokens = out.cached_tokens = -1;
  if (data.capacity() < data.size() + parse_padding) return false;
  od::document doc;
  if (parser.iterate(simdjson::padded_string_view(data.data(), data.size(), data.capacity()))
          .get(doc))
    return false;
  od::object object;
  if (doc.get_object().get(object)) return false;
  reader r{data.data(), out};
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return false;
    od::value v;
    if (field.value().get(v)) return false;
    simdjson::error_code e = SUCCESS;
    if (key == "id")
      out.id = r.token(v);
    else if (key == "model")
      out.model = r.token(v);
    else if (key == "choices")
      e = r.choices(v);
    else if (key == "usage")
      e = r.usage(v);
    else if (key == "error")
      e = r.error(v);
    if (e) return false;
  }
  return true;
}

}  // namespace aigw::json
