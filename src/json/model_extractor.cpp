#include "aigw/json/model_extractor.hpp"

#include <simdjson.h>

#include <algorithm>
#include <vector>

#include "aigw/core/object_tag.hpp"
#include "ondemand_util.hpp"

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
// validates what is visited), noting the tagged-looking ids in fields that name stored
// objects (core/object_tag.hpp). `key` is the field the value is in (an array's elements
// inherit it); `in_reference` says the enclosing object is itself such a field's value, so
// its "id" names the object.
simdjson::error_code validate(od::value value, int depth, const char* base,
                              std::vector<std::pair<std::size_t, std::size_t>>& tagged,
                              std::string_view key, bool in_reference) {
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
        if (auto e = validate(v, depth + 1, base, tagged, key, false)) return e;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::object: {
      od::object object;
      if (auto e = value.get_object().get(object)) return e;
      bool reference = is_object_reference_key(key);
      for (auto field : object) {
        std::string_view inner;
        if (auto e = field.unescaped_key().get(inner)) return e;
        if (auto e = validate(field.value(), depth + 1, base, tagged, inner, reference)) return e;
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
      bool names_object = is_object_reference_key(key) || (in_reference && key == "id");
      if (names_object && has_object_tag(s)) tagged.push_back(token);
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

}  // namespace

errc extract_request_fields(std::string& body, request_fields& out) {
  // One parser per worker thread: it keeps its buffers between requests.
  thread_local od::parser parser;
  body.reserve(body.size() + parse_padding);
  od::document doc;
  if (auto e =
          parser.iterate(simdjson::padded_string_view(body.data(), body.size(), body.capacity()))
              .get(doc))
    return to_errc(e);
  od::object object;
  if (auto e = doc.get_object().get(object)) return to_errc(e);
  bool invalid_model = false;
  for (auto field : object) {
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return to_errc(e);
    od::value value;
    if (auto e = field.value().get(value)) return to_errc(e);
    if (key == "model") {
      if (out.has_model) return errc::duplicate_model;
      out.has_model = true;
      // Where the model's JSON string sits in the body, quotes included (the raw token runs
      // on over whitespace up to the next token: trim it), for a later model override.
      std::string_view raw = value.raw_json_token();
      while (!raw.empty() && raw.back() != '"') raw.remove_suffix(1);
      out.model_offset = static_cast<std::size_t>(raw.data() - body.data());
      out.model_length = raw.size();
      std::string_view model;
      if (value.get_string().get(model) == simdjson::SUCCESS) {
        out.model.assign(model);
        continue;
      }
      invalid_model = true;  // still validate the rest: malformed JSON takes precedence
    } else if (key == "stream") {
      bool stream = false;
      if (value.get_bool().get(stream) == simdjson::SUCCESS) {
        out.stream = stream;
        continue;
      }
    } else if (key == "max_tokens" || key == "max_completion_tokens" ||
               key == "max_output_tokens") {
      std::uint64_t n = 0;
      if (value.get_uint64().get(n) == simdjson::SUCCESS) {
        out.max_tokens = n;
        continue;
      }
    } else if (key == "store") {
      bool store = false;
      if (value.get_bool().get(store) == simdjson::SUCCESS) {
        out.store = store;
        continue;
      }
    } else if (key == "stream_options") {
      auto open = value.raw_json_token();  // starts at the '{' of an object
      od::object options;
      if (!open.empty() && open[0] == '{' && value.get_object().get(options) == simdjson::SUCCESS) {
        out.stream_options_open = static_cast<std::size_t>(open.data() - body.data());
        for (auto option : options) {
          std::string_view name;
          if (auto e = option.unescaped_key().get(name)) return to_errc(e);
          od::value v;
          if (auto e = option.value().get(v)) return to_errc(e);
          if (name == "include_usage") {
            auto token = v.raw_json_token();
            while (!token.empty() && (token.back() == ' ' || token.back() == '\n' ||
                                      token.back() == '\r' || token.back() == '\t'))
              token.remove_suffix(1);
            bool include = false;
            if (v.get_bool().get(include) == simdjson::SUCCESS) {
              out.include_usage = include;
              out.include_usage_offset = static_cast<std::size_t>(token.data() - body.data());
              out.include_usage_length = token.size();
              continue;
            }
          }
          if (auto e = validate(v, 2, body.data(), out.tagged_ids, name, false)) return to_errc(e);
        }
        continue;
      }
    } else if (key == "previous_response_id") {
      // A non-empty string (validated, and looked at for a tag, below).
      auto raw = value.raw_json_token();
      out.has_previous_response = raw.size() > 2 && raw[0] == '"' && raw[1] != '"';
    }
    if (auto e = validate(value, 1, body.data(), out.tagged_ids, key, false)) return to_errc(e);
  }
  // Anything after the object (a second value, stray bytes) makes the body invalid.
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) return errc::invalid_json;
  return invalid_model ? errc::invalid_model : errc::ok;
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
