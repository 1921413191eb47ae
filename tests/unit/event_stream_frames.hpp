#pragma once
// AWS event-stream frames as AWS writes them, for the tests of the decoder and of Bedrock's
// stream translation.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "aigw/proxy/event_stream.hpp"

namespace aigw::test {

inline void put32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift & 0xff));
}

// A frame as AWS writes it; `extra_headers`: raw header bytes appended (other value types).
inline std::string frame(const std::vector<std::pair<std::string, std::string>>& headers,
                         const std::string& payload, const std::string& extra_headers = {}) {
  std::string h;
  for (const auto& [name, value] : headers) {
    h.push_back(static_cast<char>(name.size()));
    h.append(name);
    h.push_back(7);  // string
    h.push_back(static_cast<char>(value.size() >> 8));
    h.push_back(static_cast<char>(value.size() & 0xff));
    h.append(value);
  }
  h.append(extra_headers);
  std::string out;
  put32(out, static_cast<std::uint32_t>(12 + h.size() + payload.size() + 4));
  put32(out, static_cast<std::uint32_t>(h.size()));
  put32(out, proxy::crc32(out));
  out.append(h).append(payload);
  put32(out, proxy::crc32(out));
  return out;
}

}  // namespace aigw::test
