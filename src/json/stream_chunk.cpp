#include "aigw/json/stream_chunk.hpp"

#include <simdjson.h>

#include "ondemand_util.hpp"

namespace aigw::json {
namespace {

namespace od = simdjson::ondemand;

bool is_null(od::value v) {
  bool null = false;
  return v.is_null().get(null) == simdjson::SUCCESS && null;
}

simdjson::error_code read_delta(od::value v, const char* base, stream_chunk& out,
                                std::string& content) {
  od::object delta;
  if (v.get_object().get(delta) != simdjson::SUCCESS) return simdjson::SUCCESS;
  bool role = false, text = false;
  for (auto field : delta) {
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return e;
    od::value value;
    if (auto e = field.value().get(value)) return e;
    if (key == "content") {
      std::string_view s;
      if (value.get_string().get(s) == simdjson::SUCCESS && !s.empty()) {
        content.append(s);
        text = true;
      }
    } else if (key == "role") {
      role = true;
      if (std::string_view raw = value.raw_json_token(); !raw.empty() && raw.front() == '"') {
        auto [open, close] = string_token(value, base);
        auto key_at = std::string_view(base, open).rfind("\"role\"");
        if (key_at != std::string_view::npos) out.role_member = {key_at, close};
      }
    } else if ((key == "tool_calls" || key == "function_call") && !is_null(value)) {
      out.tool_calls = true;
    }
  }
  out.role_only = role && !text && !out.tool_calls;
  return simdjson::SUCCESS;
}

simdjson::error_code read_choices(od::value v, const char* base, stream_chunk& out,
                                  std::string& content) {
  od::array choices;
  if (v.get_array().get(choices) != simdjson::SUCCESS) return simdjson::SUCCESS;
  for (auto element : choices) {
    od::object choice;
    if (auto e = element.get_object().get(choice)) return e;
    bool first = true;
    for (auto field : choice) {
      std::string_view key;
      if (auto e = field.unescaped_key().get(key)) return e;
      od::value value;
      if (auto e = field.value().get(value)) return e;
      if (key == "index") {
        std::uint64_t index = 0;
        if (value.get_uint64().get(index) == simdjson::SUCCESS && index != 0) {
          out.other_choice = true;
          first = false;
        }
      } else if (key == "delta" && first) {
        if (auto e = read_delta(value, base, out, content)) return e;
      } else if (key == "logprobs" && !is_null(value)) {
        out.logprobs = true;
      }
    }
  }
  return simdjson::SUCCESS;
}

}  // namespace

bool read_stream_chunk(const std::string& json, stream_chunk& out, std::string& content) {
  out = {};
  thread_local od::parser parser;
  od::document doc;
  if (parser.iterate(simdjson::padded_string_view(json.data(), json.size(), json.capacity()))
          .get(doc) != simdjson::SUCCESS)
    return false;
  od::object root;
  if (doc.get_object().get(root) != simdjson::SUCCESS) return false;
  auto before = content.size();
  for (auto field : root) {
    std::string_view key;
    od::value value;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS ||
        field.value().get(value) != simdjson::SUCCESS) {
      content.resize(before);
      return false;
    }
    if (key == "id") {
      if (std::string_view raw = value.raw_json_token(); !raw.empty() && raw.front() == '"')
        out.id_token = string_token(value, json.data());
    } else if (key == "error") {
      out.error = !is_null(value);
    } else if (key == "choices") {
      if (read_choices(value, json.data(), out, content) != simdjson::SUCCESS) {
        content.resize(before);
        return false;
      }
    }
  }
  out.object = true;
  return true;
}

}  // namespace aigw::json
