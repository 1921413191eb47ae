#include "aigw/json/model_extractor.hpp"

#include <simdjson.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "aigw/core/object_tag.hpp"
#include "ondemand_util.hpp"

#include <fmt/format.h>

#include <boost/json/serialize.hpp>
#include <boost/json/string_view.hpp>

namespace aigw::json {
namespace {

namespace od = simdjson::ondemand;
static_assert(parse_padding == simdjson::SIMDJSON_PADDING);

errc to_errc(simdjson::error_code e) {
  return e == simdjson::UTF8_ERROR ? errc::invalid_utf8 : errc::invalid_json;
}

// Deeper nesting than any real request; bounds the recursion below (simdjson's own depth
// limit is only enforced in its development builds).
constexpr int kMaxDepth = 128;

// Walks a value to its end so that every byte of the document is checked (On-Demand only
// validates what is visited), noting the ids in fields that name stored objects
// (core/object_tag.hpp): the tagged-looking ones, and whether any has no tag. `key` is the
// field the value is in (an array's elements inherit it); `in_reference` says the enclosing
// object is itself such a field's value, so its "id" names the object. What a `metadata`
// object holds is the client's own (key-value pairs it stores), never a reference.
simdjson::error_code validate(od::value value, int depth, const char* base, request_fields& out,
                              std::string_view key, bool in_reference, bool opaque = false) {
  if (depth > kMaxDepth) return simdjson::DEPTH_ERROR;
  od::json_type type;
  if (auto e = value.type().get(type)) return e;
  switch (type) {
    case od::json_type::array: {
      od::array array;
      if (auto e = value.get_array().get(array)) return e;
      for (auto element : array) {
        od::value v;
        if (auto e = element.get(v)) return e;
        if (auto e = validate(v, depth + 1, base, out, key, false, opaque)) return e;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::object: {
      od::object object;
      if (auto e = value.get_object().get(object)) return e;
      bool reference = is_object_reference_key(key);
      bool inner_opaque = opaque || key == "metadata";
      for (auto field : object) {
        std::string_view inner;
        if (auto e = field.unescaped_key().get(inner)) return e;
        if (auto e = validate(field.value(), depth + 1, base, out, inner, reference, inner_opaque))
          return e;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::number:
      // As a double: integers beyond 64 bits are valid JSON too, just not exact.
      return value.get_double().error();
    case od::json_type::string: {
      auto token = string_token(value, base);
      std::string_view s;
      if (auto e = value.get_string().get(s)) return e;
      bool names_object =
          !opaque && (is_object_reference_key(key) || (in_reference && key == "id"));
      if (!names_object || s.empty()) return simdjson::SUCCESS;
      if (has_object_tag(s))
        out.tagged_ids.push_back(token);
      else
        out.untagged_references = true;
      return simdjson::SUCCESS;
    }
    case od::json_type::boolean:
      return value.get_bool().error();
    case od::json_type::null: {
      bool is_null = false;
      if (auto e = value.is_null().get(is_null)) return e;
      return is_null ? simdjson::SUCCESS : simdjson::INCORRECT_TYPE;
    }
  }
  return simdjson::INCORRECT_TYPE;
}

// The top-level fields the gateway reads, each at most once and spelled exactly so. A key
// that names one only when case is ignored ("Model", "STREAM") is refused: Go's encoding/json
// (Ollama and others) matches keys that way, the last one winning, so the backend would act
// on a field the gateway never checked. Duplicates are refused for the same reason (parsers
// differ on which one counts).
constexpr std::string_view kReadFields[] = {
    "model", "stream",         "max_tokens",          "max_completion_tokens", "max_output_tokens",
    "store", "stream_options", "previous_response_id"};

bool ascii_iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

// Which of `names` `key` is (its index; npos for none). A case variant, or a second
// occurrence (`seen` holds the ones met), sets `problem` instead.
template <std::size_t N>
std::size_t read_field(std::string_view key, const std::string_view (&names)[N], unsigned& seen,
                       std::string& problem) {
  for (std::size_t i = 0; i < N; ++i) {
    if (!ascii_iequals(key, names[i])) continue;
    if (key != names[i])
      problem = fmt::format("\"{}\" is not a parameter; the name is \"{}\"", key, names[i]);
    else if (seen >> i & 1)
      problem = fmt::format("\"{}\" is given more than once", key);
    seen |= 1u << i;
    return i;
  }
  return std::string_view::npos;
}

bool is_null(od::value& value) {
  bool null = false;
  return value.is_null().get(null) == simdjson::SUCCESS && null;
}

// A boolean field: true or false, or null (absent). Anything else sets `problem`: a backend
// may read "true" or 1 as true (pydantic does), which would stream an answer the gateway
// took for a JSON one. Returns whether the value was read (else it is still to validate).
bool read_bool(od::value& value, std::string_view name, bool& out, std::string& problem) {
  bool b = false;
  if (value.get_bool().get(b) == simdjson::SUCCESS) {
    out = b;
    return true;
  }
  if (is_null(value)) return true;
  problem = fmt::format("\"{}\" must be true, false or null", name);
  return false;
}

// The value's token, without the whitespace On-Demand leaves after it.
std::string_view trimmed_token(od::value& value) {
  auto token = value.raw_json_token();
  while (!token.empty() && (token.back() == ' ' || token.back() == '\n' || token.back() == '\r' ||
                            token.back() == '\t'))
    token.remove_suffix(1);
  return token;
}

// stream_options: an object (include_usage read, once, as a boolean) or null.
simdjson::error_code read_stream_options(od::value& value, const std::string& body,
                                         request_fields& out) {
  auto token = trimmed_token(value);
  if (is_null(value)) {
    out.stream_options_null = static_cast<std::size_t>(token.data() - body.data());
    return simdjson::SUCCESS;
  }
  od::object options;
  if (token.empty() || token[0] != '{' || value.get_object().get(options)) {
    out.problem = "\"stream_options\" must be an object or null";
    return validate(value, 1, body.data(), out, "stream_options", false);
  }
  out.stream_options_open = static_cast<std::size_t>(token.data() - body.data());
  static constexpr std::string_view kOptions[] = {"include_usage"};
  unsigned seen = 0;
  for (auto option : options) {
    std::string_view name;
    if (auto e = option.unescaped_key().get(name)) return e;
    od::value v;
    if (auto e = option.value().get(v)) return e;
    if (read_field(name, kOptions, seen, out.problem) == 0 && out.problem.empty()) {
      auto include = trimmed_token(v);
      out.include_usage_offset = static_cast<std::size_t>(include.data() - body.data());
      out.include_usage_length = include.size();
      if (read_bool(v, name, out.include_usage, out.problem)) continue;
    }
    if (auto e = validate(v, 2, body.data(), out, name, false)) return e;
  }
  return simdjson::SUCCESS;
}

// An output limit: a whole number from 1 to kMaxOutputTokens, or null (absent). The largest
// of the limits a body gives is the one reserved: backends differ on which one they obey.
// Returns whether the value was read (else it is still to validate).
bool read_output_limit(od::value& value, std::string_view name, request_fields& out) {
  std::uint64_t n = 0;
  bool whole = value.get_uint64().get(n) == simdjson::SUCCESS;
  if (whole && n >= 1 && n <= kMaxOutputTokens) {
    out.max_tokens = std::max(out.max_tokens, n);
    return true;
  }
  if (!whole && is_null(value)) return true;
  out.problem =
      fmt::format("\"{}\" must be a whole number from 1 to {}, or null", name, kMaxOutputTokens);
  return whole;
}

}  // namespace

errc extract_request_fields(std::string& body, request_fields& out) {
  // One parser per worker thread keeps its buffers between requests; a body past
  // kKeptParserBody gets a parser of its own, given back at the end: the buffers grow with
  // the body (to a few times its size, for a body of tiny values) and would stay that large.
  constexpr std::size_t kKeptParserBody = 1u << 20;
  thread_local od::parser kept;
  std::optional<od::parser> own;
  auto& parser = body.size() > kKeptParserBody ? own.emplace() : kept;
  body.reserve(body.size() + parse_padding);
  od::document doc;
  if (auto e =
          parser.iterate(simdjson::padded_string_view(body.data(), body.size(), body.capacity()))
              .get(doc))
    return to_errc(e);
  od::object object;
  if (auto e = doc.get_object().get(object)) return to_errc(e);
  bool invalid_model = false;
  bool duplicate_model = false;
  unsigned seen = 0;
  for (auto field : object) {
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return to_errc(e);
    od::value value;
    if (auto e = field.value().get(value)) return to_errc(e);
    auto which = read_field(key, kReadFields, seen, out.problem);
    if (which == 0 && key == "model" && out.has_model) {
      duplicate_model = true;  // its own error, once the rest is validated
      out.problem.clear();
    } else if (which == 0 && out.problem.empty()) {
      out.has_model = true;
      // Where the model's JSON string sits in the body, quotes included, for a later model
      // override.
      auto raw = trimmed_token(value);
      out.model_offset = static_cast<std::size_t>(raw.data() - body.data());
      out.model_length = raw.size();
      std::string_view model;
      if (value.get_string().get(model) == simdjson::SUCCESS) {
        out.model.assign(model);
        continue;
      }
      invalid_model = true;  // still validate the rest: malformed JSON takes precedence
    } else if (which == 1) {
      if (read_bool(value, key, out.stream, out.problem)) continue;
    } else if (which >= 2 && which <= 4) {
      if (read_output_limit(value, key, out)) continue;
    } else if (which == 5) {
      if (read_bool(value, key, out.store, out.problem)) continue;
    } else if (which == 6) {
      if (auto e = read_stream_options(value, body, out)) return to_errc(e);
      continue;
    } else if (which == 7) {
      // A non-empty string (validated, and looked at for a tag, below).
      auto raw = value.raw_json_token();
      out.has_previous_response = raw.size() > 2 && raw[0] == '"' && raw[1] != '"';
    }
    // Validated whole (a value read above may be of a type its reader refused).
    if (auto e = validate(value, 1, body.data(), out, key, false)) return to_errc(e);
  }
  // Anything after the object (a second value, stray bytes) makes the body invalid.
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) return errc::invalid_json;
  if (duplicate_model) return errc::duplicate_model;
  if (invalid_model) return errc::invalid_model;
  return out.problem.empty() ? errc::ok : errc::invalid_parameter;
}

std::string with_usage_forced(std::string_view body, const request_fields& fields,
                              std::string_view model) {
  // The edits, each at an offset of the original body, applied from the last one back so
  // that each offset still holds.
  struct edit {
    std::size_t at, length;
    std::string text;
  };
  std::vector<edit> edits;
  if (!model.empty() && fields.has_model)
    edits.push_back({fields.model_offset, fields.model_length,
                     boost::json::serialize(boost::json::string_view(model.data(), model.size()))});
  auto opens_empty = [&](std::size_t brace) {
    auto next = body.find_first_not_of(" \t\r\n", brace + 1);
    return next != std::string_view::npos && body[next] == '}';
  };
  if (fields.include_usage_offset != request_fields::kNone) {
    edits.push_back({fields.include_usage_offset, fields.include_usage_length, "true"});
  } else if (fields.stream_options_null != request_fields::kNone) {
    edits.push_back({fields.stream_options_null, 4, R"({"include_usage":true})"});
  } else if (fields.stream_options_open != request_fields::kNone) {
    auto at = fields.stream_options_open + 1;
    edits.push_back({at, 0,
                     opens_empty(fields.stream_options_open) ? R"("include_usage":true)"
                                                             : R"("include_usage":true,)"});
  } else {
    auto brace = body.find('{');
    edits.push_back({brace + 1, 0,
                     opens_empty(brace) ? R"("stream_options":{"include_usage":true})"
                                        : R"("stream_options":{"include_usage":true},)"});
  }
  std::sort(edits.begin(), edits.end(), [](const edit& a, const edit& b) { return a.at > b.at; });
  std::string out(body);
  for (const auto& e : edits) out.replace(e.at, e.length, e.text);
  return out;
}

void replace_model(std::string& body, const request_fields& fields, std::string_view model) {
  body.replace(fields.model_offset, fields.model_length,
               boost::json::serialize(boost::json::string_view(model.data(), model.size())));
}

}  // namespace aigw::json
