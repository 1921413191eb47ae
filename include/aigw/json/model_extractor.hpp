#pragma once
// Reads the fields the gateway routes on from a JSON request body, in place, with simdjson
// On-Demand, and checks on the way that the whole body is valid JSON (a single pass, no DOM,
// no allocation once the worker's parser has grown to the largest body seen).
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aigw/core/errc.hpp"

namespace aigw::json {

// Spare bytes the parser may read past the end of the body. Reserve body.size() + this in
// the body's buffer before reading it, so parsing never copies the body.
inline constexpr std::size_t parse_padding = 64;

struct request_fields {
  std::string model;  // unescaped; empty when absent
  bool has_model = false;
  bool stream = false;
  // A Responses API request that continues a stored response ("previous_response_id"): its
  // model may be left out (the stored response has one).
  bool has_previous_response = false;
  bool store = false;  // "store": true, a chat completion the backend keeps
  // The largest of max_tokens, max_completion_tokens and max_output_tokens (the Responses
  // API's): the most output the request may cost; 0 when absent (or null).
  std::uint64_t max_tokens = 0;
  // stream_options.include_usage, for forcing it on a stream (kNone: absent): where the
  // stream_options object opens, and the include_usage value's token.
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  bool include_usage = false;
  std::size_t stream_options_open = kNone;
  std::size_t stream_options_null = kNone;  // "stream_options": null, its token
  std::size_t include_usage_offset = kNone;
  std::size_t include_usage_length = 0;
  // Strings shaped like tagged object ids in the fields that name stored objects
  // (core/object_tag.hpp), at any depth: the offsets of their opening and closing quotes.
  // Empty for nearly every request.
  std::vector<std::pair<std::size_t, std::size_t>> tagged_ids;
  // Whether such a field names an object by an id without a tag (which objects scoped to
  // their owners refuse).
  bool untagged_references = false;
  // The model's JSON string token in the body (quotes included), when has_model.
  std::size_t model_offset = 0;
  std::size_t model_length = 0;
  // With errc::invalid_parameter: what is wrong, naming the field.
  std::string problem;
};

// The largest output limit accepted (max_tokens and its kin): far past any model's, and
// small enough that a reservation of it cannot overflow a budget's counter.
inline constexpr std::uint64_t kMaxOutputTokens = std::uint64_t(1) << 24;

// Validates `body` as one JSON object and extracts the fields above. Errors: invalid_utf8,
// invalid_json (malformed, trailing data, not an object), duplicate_model, invalid_model
// ("model" not a string), invalid_parameter (a field read here given twice, spelled in
// another case, or of a type or range its API does not allow: `problem` says which). Reserves the
// padding itself when the caller did not (costing a copy of the body).
errc extract_request_fields(std::string& body, request_fields& out);

// Replaces the model string found by extract_request_fields with `model` (JSON-escaped); the
// rest of the body is left byte for byte as it was.
void replace_model(std::string& body, const request_fields& fields, std::string_view model);

// A copy of `body` that asks for usage on a stream (stream_options.include_usage true: the
// value set, the field added, or the object added), with `model` (when not empty) in place of
// the body's model; every other byte as it was.
std::string with_usage_forced(std::string_view body, const request_fields& fields,
                              std::string_view model);

}  // namespace aigw::json

namespace aigw::json {
// Whether this CPU runs the SIMD kernel the body scanner was built for (AVX2 on x86-64 by
// default). The binary checks it at start-up instead of dying on an illegal instruction.
bool simd_supported() noexcept;
const char* simd_kernel_name() noexcept;
}  // namespace aigw::json
