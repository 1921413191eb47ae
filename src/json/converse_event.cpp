#include "aigw/json/converse_event.hpp"

#include <simdjson.h>

#include "aigw/json/model_extractor.hpp"
#include "ondemand_util.hpp"

namespace aigw::json {
namespace {

namespace od = simdjson::ondemand;
using simdjson::SUCCESS;

struct reader {
  const char* base;
  converse_event& out;

  std::string_view token(od::value value) { return raw_string(value, base); }
  std::string_view plain(od::value value) { return plain_string(value, base); }
  static std::int64_t count(od::value value) { return token_count(value); }

  simdjson::error_code top(std::string_view key, od::value v) {
    if (key == "contentBlockIndex") {
      std::uint64_t index = 0;
      if (v.get_uint64().get(index) == SUCCESS) out.index = index;
    } else if (key == "start") {  // {"toolUse":{"toolUseId":...,"name":...}}
      return each_field(v, [&](std::string_view k, od::value s) {
        if (k != "toolUse") return simdjson::error_code(SUCCESS);
        return each_field(s, [&](std::string_view tk, od::value t) {
          if (tk == "toolUseId")
            out.tool_id = token(t);
          else if (tk == "name")
            out.tool_name = token(t);
          return simdjson::error_code(SUCCESS);
        });
      });
    } else if (key == "delta") {  // {"text":...} | {"toolUse":{"input":...}} |
                                  // {"reasoningContent":{"text":...}}
      return each_field(v, [&](std::string_view k, od::value d) {
        if (k == "text") {
          out.text = token(d);
        } else if (k == "toolUse") {
          return each_field(d, [&](std::string_view tk, od::value t) {
            if (tk == "input") out.tool_input = token(t);
            return simdjson::error_code(SUCCESS);
          });
        } else if (k == "reasoningContent") {
          return each_field(d, [&](std::string_view rk, od::value r) {
            if (rk == "text") out.reasoning = token(r);
            return simdjson::error_code(SUCCESS);
          });
        }
        return simdjson::error_code(SUCCESS);
      });
    } else if (key == "stopReason") {
      out.stop_reason = plain(v);
    } else if (key == "usage") {
      return each_field(v, [&](std::string_view k, od::value n) {
        if (k == "inputTokens")
          out.input = count(n);
        else if (k == "outputTokens")
          out.output = count(n);
        else if (k == "cacheReadInputTokens")
          out.cache_read = count(n);
        else if (k == "cacheWriteInputTokens")
          out.cache_write = count(n);
        return simdjson::error_code(SUCCESS);
      });
    } else if (key == "message" || key == "Message") {
      out.message = token(v);
    }
    return SUCCESS;
  }
};

}  // namespace

bool read_converse_event(const std::string& data, converse_event& out) {
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
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return false;
    od::value v;
    if (field.value().get(v)) return false;
    if (r.top(key, v)) return false;
  }
  return true;
}

}  // namespace aigw::json
