#include "aigw/json/usage_scan.hpp"

#include <simdjson.h>

#include "aigw/json/model_extractor.hpp"

namespace aigw::json {
namespace {

namespace od = simdjson::ondemand;

std::uint64_t number(od::value v) {
  std::uint64_t n = 0;
  if (v.get_uint64().get(n) != simdjson::SUCCESS) return 0;
  return n;
}

// A "*_details" object: the one count of it that is wanted.
std::uint64_t detail(od::value v, std::string_view wanted) {
  od::object details;
  if (v.get_object().get(details) != simdjson::SUCCESS) return 0;
  for (auto field : details) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return 0;
    if (key == wanted) return number(field.value());
  }
  return 0;
}

simdjson::error_code read_usage_object(od::value v, usage_reading& out) {
  od::object usage;
  if (v.get_object().get(usage) != simdjson::SUCCESS) return simdjson::SUCCESS;  // null
  usage_reading r;
  r.model = std::move(out.model);
  for (auto field : usage) {
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return e;
    od::value value;
    if (auto e = field.value().get(value)) return e;
    if (key == "prompt_tokens" || key == "input_tokens") {
      r.input = number(value);
      r.found = true;
    } else if (key == "completion_tokens" || key == "output_tokens") {
      r.output = number(value);
      r.found = true;
    } else if (key == "prompt_tokens_details" || key == "input_tokens_details") {
      r.cached_input = detail(value, "cached_tokens");
    } else if (key == "completion_tokens_details" || key == "output_tokens_details") {
      r.reasoning = detail(value, "reasoning_tokens");
    } else if (key == "cache_read_input_tokens") {
      r.cached_input = number(value);
    } else if (key == "cache_creation_input_tokens") {
      r.cache_creation_input = number(value);
    }
  }
  if (r.found)
    out = std::move(r);
  else
    out.model = std::move(r.model);
  return simdjson::SUCCESS;
}

simdjson::error_code read_object(od::object object, usage_reading& out, int depth) {
  for (auto field : object) {
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return e;
    od::value value;
    if (auto e = field.value().get(value)) return e;
    if (key == "usage") {
      if (auto e = read_usage_object(value, out)) return e;
    } else if (key == "model") {
      std::string_view model;
      if (value.get_string().get(model) == simdjson::SUCCESS) out.model.assign(model);
    } else if (key == "response" && depth == 0) {  // a Responses API event
      od::object inner;
      if (value.get_object().get(inner) == simdjson::SUCCESS)
        if (auto e = read_object(inner, out, depth + 1)) return e;
    }
  }
  return simdjson::SUCCESS;
}

}  // namespace

bool read_usage(const std::string& json, usage_reading& out) {
  thread_local od::parser parser;  // per worker thread: keeps its buffers
  if (json.capacity() < json.size() + parse_padding) return false;
  od::document doc;
  if (parser.iterate(simdjson::padded_string_view(json.data(), json.size(), json.capacity()))
          .get(doc))
    return false;
  od::object object;
  if (doc.get_object().get(object)) return false;
  return read_object(object, out, 0) == simdjson::SUCCESS;
}

}  // namespace aigw::json
