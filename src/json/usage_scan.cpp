#include "aigw/json/usage_scan.hpp"

#include <optional>

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

// Only the counts an object gives change what was read before: Anthropic's stream gives the
// input at its start (message_start) and the output so far at each message_delta.
simdjson::error_code read_usage_object(od::value v, usage_reading& out) {
  od::object usage;
  if (v.get_object().get(usage) != simdjson::SUCCESS) return simdjson::SUCCESS;  // null
  std::optional<std::uint64_t> input, output, cached, cache_read, cache_creation, reasoning;
  bool uncached_input = false;  // Anthropic's input_tokens leave the cache reads and writes out
  for (auto field : usage) {
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return e;
    od::value value;
    if (auto e = field.value().get(value)) return e;
    if (key == "prompt_tokens" || key == "input_tokens") {
      input = number(value);
      uncached_input = key == "input_tokens";
    } else if (key == "completion_tokens" || key == "output_tokens") {
      output = number(value);
    } else if (key == "prompt_tokens_details" || key == "input_tokens_details") {
      cached = detail(value, "cached_tokens");
    } else if (key == "completion_tokens_details" || key == "output_tokens_details") {
      reasoning = detail(value, "reasoning_tokens");
    } else if (key == "cache_read_input_tokens") {
      cache_read = number(value);
    } else if (key == "cache_creation_input_tokens") {
      cache_creation = number(value);
    }
  }
  if (!input && !output) return simdjson::SUCCESS;  // no counts
  out.found = true;
  if (cached) out.cached_input = *cached;
  if (cache_read) out.cached_input = *cache_read;
  if (cache_creation) out.cache_creation_input = *cache_creation;
  if (uncached_input && (cache_read || cache_creation)) out.input_excludes_cache = true;
  if (reasoning) out.reasoning = *reasoning;
  if (output) out.output = *output;
  // The input counted as OpenAI counts prompt tokens: cached ones included.
  if (input)
    out.input = *input + (uncached_input && out.input_excludes_cache
                              ? out.cached_input + out.cache_creation_input
                              : 0);
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
    } else if ((key == "response" || key == "message") && depth == 0) {
      // A Responses API event's response; an Anthropic message_start's message.
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
