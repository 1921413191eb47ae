#pragma once
// AWS's event stream framing (application/vnd.amazon.eventstream: Bedrock's ConverseStream
// and InvokeModelWithResponseStream), decoded incrementally as the bytes arrive:
//
//   total length (4, big-endian) | headers length (4) | prelude CRC32 (4)
//   headers | payload | message CRC32 (4)
//
// Both CRCs are checked (CRC-32, as zlib's). A header is a name (1-byte length), a type, and
// a value; string values (type 7) are kept, the others skipped by their size. A message is
// bounded (kMaxMessage); anything malformed is an error, and the decoder stops there: nothing
// after a bad frame can be trusted.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aigw::proxy {

struct event_stream_message {
  // The string headers (":event-type", ":message-type", ":content-type", ...).
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  std::string_view payload;
  std::string_view header(std::string_view name) const noexcept {
    for (const auto& [n, v] : headers)
      if (n == name) return v;
    return {};
  }
};

class event_stream_decoder {
 public:
  static constexpr std::size_t kMaxMessage = 1u << 20;

  enum class status { ok, bad_prelude_crc, bad_message_crc, bad_length, bad_headers };

  // Feeds the next bytes; `on_message(const event_stream_message&)` runs for each message
  // that completes within them (its views live until the callback returns). Returns the
  // first error; after one, every call returns it and decodes nothing.
  template <class OnMessage>
  status feed(std::string_view bytes, OnMessage&& on_message) {
    if (error_ != status::ok) return error_;
    held_.append(bytes);
    std::size_t at = 0;
    while (error_ == status::ok) {
      std::size_t used = 0;
      error_ = next(std::string_view(held_).substr(at), used);
      if (error_ != status::ok || used == 0) break;
      on_message(message_);
      at += used;
    }
    held_.erase(0, at);
    return error_;
  }

  // For the next stream: nothing held, no error, the buffers' capacity kept.
  void reset() noexcept {
    held_.clear();
    message_.headers.clear();
    error_ = status::ok;
  }

  // Bytes held of a message not complete yet.
  std::size_t pending() const noexcept { return held_.size(); }

  static const char* describe(status s) noexcept;

 private:
  // Decodes one message at the start of `bytes` into message_ (used = its size), or leaves
  // used = 0 when it is not all there yet.
  status next(std::string_view bytes, std::size_t& used);

  std::string held_;
  event_stream_message message_;
  status error_ = status::ok;
};

// CRC-32 (IEEE, as zlib's crc32), for the framing and its tests.
std::uint32_t crc32(std::string_view bytes) noexcept;

}  // namespace aigw::proxy
