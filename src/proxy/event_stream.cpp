#include "aigw/proxy/event_stream.hpp"

#include <boost/crc.hpp>

namespace aigw::proxy {
namespace {

constexpr std::size_t kPrelude = 12;  // two lengths and the prelude CRC
constexpr std::size_t kTrailer = 4;   // the message CRC

std::uint32_t big_endian32(std::string_view b, std::size_t at) {
  auto byte = [&](std::size_t i) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + i]));
  };
  return byte(0) << 24 | byte(1) << 16 | byte(2) << 8 | byte(3);
}

}  // namespace

std::uint32_t crc32(std::string_view bytes) noexcept {
  boost::crc_32_type computer;
  computer.process_bytes(bytes.data(), bytes.size());
  return computer.checksum();
}

const char* event_stream_decoder::describe(status s) noexcept {
  switch (s) {
    case status::ok:
      return "ok";
    case status::bad_prelude_crc:
      return "an event-stream frame's prelude CRC does not match";
    case status::bad_message_crc:
      return "an event-stream frame's message CRC does not match";
    case status::bad_length:
      return "an event-stream frame's length is impossible or over the limit";
    case status::bad_headers:
      return "an event-stream frame's headers are malformed";
  }
  return "?";
}

event_stream_decoder::status event_stream_decoder::next(std::string_view bytes, std::size_t& used) {
  used = 0;
  if (bytes.size() < kPrelude) return status::ok;
  auto total = big_endian32(bytes, 0);
  auto headers_length = big_endian32(bytes, 4);
  if (crc32(bytes.substr(0, 8)) != big_endian32(bytes, 8)) return status::bad_prelude_crc;
  if (total < kPrelude + kTrailer || total > kMaxMessage ||
      headers_length > total - kPrelude - kTrailer)
    return status::bad_length;
  if (bytes.size() < total) return status::ok;
  if (crc32(bytes.substr(0, total - kTrailer)) != big_endian32(bytes, total - kTrailer))
    return status::bad_message_crc;

  message_.headers.clear();
  auto headers = bytes.substr(kPrelude, headers_length);
  for (std::size_t at = 0; at < headers.size();) {
    auto name_length = static_cast<unsigned char>(headers[at]);
    if (name_length == 0 || at + 1 + name_length + 1 > headers.size()) return status::bad_headers;
    auto name = headers.substr(at + 1, name_length);
    at += 1 + name_length;
    auto type = static_cast<unsigned char>(headers[at++]);
    std::size_t size = 0;
    switch (type) {
      case 0:  // true
      case 1:  // false
        size = 0;
        break;
      case 2:  // byte
        size = 1;
        break;
      case 3:  // short
        size = 2;
        break;
      case 4:  // int
        size = 4;
        break;
      case 5:  // long
      case 8:  // timestamp
        size = 8;
        break;
      case 9:  // uuid
        size = 16;
        break;
      case 6:    // bytes
      case 7: {  // string
        if (at + 2 > headers.size()) return status::bad_headers;
        auto length = static_cast<std::size_t>(static_cast<unsigned char>(headers[at])) << 8 |
                      static_cast<unsigned char>(headers[at + 1]);
        at += 2;
        if (at + length > headers.size()) return status::bad_headers;
        if (type == 7) message_.headers.emplace_back(name, headers.substr(at, length));
        at += length;
        continue;
      }
      default:
        return status::bad_headers;
    }
    if (at + size > headers.size()) return status::bad_headers;
    at += size;
  }
  message_.payload =
      bytes.substr(kPrelude + headers_length, total - kPrelude - headers_length - kTrailer);
  used = total;
  return status::ok;
}

}  // namespace aigw::proxy
