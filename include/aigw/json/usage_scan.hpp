#pragma once
// Reads the token usage a backend reports, from one JSON document: a chat completion,
// completion, embeddings or Responses API body, a stream chunk, or a Responses API event
// (whose "response" holds it). In place, with simdjson On-Demand.
#include <cstdint>
#include <string>

namespace aigw::json {

struct usage_reading {
  bool found = false;  // a "usage" object with token counts
  std::uint64_t input = 0;
  std::uint64_t output = 0;
  std::uint64_t cached_input = 0;
  std::uint64_t cache_creation_input = 0;
  std::uint64_t reasoning = 0;
  // Anthropic's counts (cache reads and writes named beside input_tokens): its input_tokens
  // leave them out, and `input` adds them back, also for a later event that gives
  // input_tokens alone.
  bool input_excludes_cache = false;
  std::string model;  // the response's "model", when it names one

  // For the next response: nothing read, the model's buffer kept.
  void reset() noexcept {
    auto kept = std::move(model);
    *this = {};
    model = std::move(kept);
    model.clear();
  }
};

// Fills `out` from `json` (which needs parse_padding spare capacity, model_extractor.hpp):
// chat and completions usage (prompt_tokens, completion_tokens, *_details.cached_tokens and
// reasoning_tokens), the Responses API's (input_tokens, output_tokens, input_tokens_details,
// output_tokens_details), and Anthropic's (a message's, or a stream event's: message_start's
// message.usage, message_delta's usage; input_tokens plus the cache reads and writes are the
// input, as OpenAI counts it). Only the counts the object gives change `out`, so an Anthropic
// stream's events add up. Leaves `out` as it was when there is no usage object.
// Returns false when `json` is not a JSON object.
bool read_usage(const std::string& json, usage_reading& out);

}  // namespace aigw::json
