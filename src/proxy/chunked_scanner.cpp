#include "chunked_scanner.hpp"

namespace aigw::proxy {

bool chunked_scanner::parse_size(std::string_view line, std::uint64_t& size) noexcept {
  // chunk-size = 1*HEXDIG, then optional BWS and chunk extensions. At most 15 digits: no
  // overflow, and far beyond any real chunk.
  std::size_t i = 0;
  size = 0;
  for (; i < line.size() && i < 16; ++i) {
    char c = line[i];
    unsigned digit;
    if (c >= '0' && c <= '9')
      digit = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f')
      digit = static_cast<unsigned>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      digit = static_cast<unsigned>(c - 'A' + 10);
    else
      break;
    size = size * 16 + digit;
  }
  if (i == 0 || i > 15) return false;
  auto rest = line.substr(i);
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
  if (rest.empty()) return true;
  // Extensions are relayed as they are: no control bytes in them (HTAB aside).
  if (rest.front() != ';') return false;
  for (char c : rest)
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) return false;
  return true;
}

}  // namespace aigw::proxy
