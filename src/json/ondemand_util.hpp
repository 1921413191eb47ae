#pragma once
// Pieces shared by the body scanners of the JSON kernel (built with its own SIMD flags, so
// only its units include simdjson).
#include <cstddef>
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

}  // namespace aigw::json
