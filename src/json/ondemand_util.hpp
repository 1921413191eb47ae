#pragma once
// Pieces shared by the body scanners of the JSON kernel (built with its own SIMD flags, so
// only its units include simdjson).
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

#include <simdjson.h>

namespace aigw::json {

// Where a string value's token lies in the document starting at `base`: the offsets of its
// opening and closing quotes.
inline std::pair<std::size_t, std::size_t> string_token(simdjson::ondemand::value& value,
                                                        const char* base) {
  std::string_view raw = value.raw_json_token();  // runs on over whitespace: trim it
  while (!raw.empty() && raw.back() != '"') raw.remove_suffix(1);
  auto open = static_cast<std::size_t>(raw.data() - base);
  return {open, open + raw.size() - 1};
}

// Whether a string token (quotes included) is JSON that strict parsers take: each escape one
// of \" \\ \/ \b \f \n \r \t \uXXXX, a UTF-16 surrogate only as a pair, no raw control
// character. On-Demand does not check the escapes of a string it is not asked to unescape,
// and a translation splices the token into what it writes as it came.
inline bool valid_string_token(std::string_view token) noexcept {
  if (token.size() < 2 || token.front() != '"' || token.back() != '"') return false;
  std::size_t end = token.size() - 1;  // the closing quote
  // The code unit of the four hex digits after the 'u' at `u`, if they are inside the token.
  auto code_unit = [&](std::size_t u, unsigned& unit) {
    if (u + 4 >= end) return false;
    unit = 0;
    for (std::size_t k = u + 1; k <= u + 4; ++k) {
      char c = token[k];
      unsigned digit = c >= '0' && c <= '9'   ? unsigned(c - '0')
                       : c >= 'a' && c <= 'f' ? unsigned(c - 'a' + 10)
                       : c >= 'A' && c <= 'F' ? unsigned(c - 'A' + 10)
                                              : 16u;
      if (digit == 16) return false;
      unit = unit * 16 + digit;
    }
    return true;
  };
  for (std::size_t i = 1; i < end; ++i) {
    auto c = static_cast<unsigned char>(token[i]);
    if (c < 0x20) return false;
    if (c != '\\') continue;
    if (++i == end) return false;
    if (token[i] == 'u') {
      unsigned unit = 0;
      if (!code_unit(i, unit) || (unit >= 0xdc00 && unit <= 0xdfff)) return false;
      i += 4;
      if (unit >= 0xd800 && unit <= 0xdbff) {  // a high surrogate: its low half must follow
        unsigned low = 0;
        if (i + 2 >= end || token[i + 1] != '\\' || token[i + 2] != 'u' || !code_unit(i + 2, low) ||
            low < 0xdc00 || low > 0xdfff)
          return false;
        i += 6;
      }
    } else if (std::string_view("\"\\/bfnrt").find(token[i]) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// A string value's raw JSON token in the document at `base`, quotes and escapes included
// (what a translation splices as it came); empty for a value of another type, or a string
// that is not valid JSON (a hostile backend's: never passed on, the field is read as absent,
// as a malformed event is skipped).
inline std::string_view raw_string(simdjson::ondemand::value value, const char* base) {
  simdjson::ondemand::json_type type;
  if (value.type().get(type) != simdjson::SUCCESS || type != simdjson::ondemand::json_type::string)
    return {};
  auto [open, close] = string_token(value, base);
  std::string_view token(base + open, close + 1 - open);
  return valid_string_token(token) ? token : std::string_view();
}

// A string value without escapes (an enum-like value: a type, a stop reason), unquoted;
// empty otherwise.
inline std::string_view plain_string(simdjson::ondemand::value value, const char* base) {
  auto raw = raw_string(value, base);
  if (raw.size() < 2 || raw.find('\\') != std::string_view::npos) return {};
  return raw.substr(1, raw.size() - 2);
}

// A token count: a whole number of 0 or more; -1 for anything else.
inline std::int64_t token_count(simdjson::ondemand::value value) {
  std::int64_t n = 0;
  if (value.get_int64().get(n) != simdjson::SUCCESS || n < 0) return -1;
  return n;
}

// Calls `on_field(key, value)` for each member of an object value (none for a value of
// another type); returns the first error.
template <class OnField>
simdjson::error_code each_field(simdjson::ondemand::value value, OnField&& on_field) {
  simdjson::ondemand::object object;
  if (value.get_object().get(object) != simdjson::SUCCESS) return simdjson::SUCCESS;
  for (auto field : object) {
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return e;
    simdjson::ondemand::value v;
    if (auto e = field.value().get(v)) return e;
    if (auto e = on_field(key, v)) return e;
  }
  return simdjson::SUCCESS;
}

}  // namespace aigw::json
