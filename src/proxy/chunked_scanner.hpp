#pragma once
// Walks a chunked response body (RFC 9112 section 7.1) as it arrives, in place, so that the
// relay can pass the upstream's bytes to a chunked client as they are (framing included: one
// write per read, no copy), knowing exactly where the message ends.
//
// The scanner never keeps bytes of its own. A chunk-size line, the CRLF after a chunk's data
// and the trailer section are only taken whole: when one is cut by the end of the input, the
// scan stops before it and the caller keeps those bytes to present them again, followed by
// what it reads next. Lines are bounded, so what a caller keeps is bounded too.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace aigw::proxy {

class chunked_scanner {
 public:
  // The longest chunk-size line accepted (extensions included), and trailer section.
  static constexpr std::size_t kMaxLine = 4096;
  static constexpr std::size_t kMaxTrailers = 16 * 1024;

  struct result {
    // Input bytes taken; the rest (an incomplete line) is presented again next time.
    std::size_t taken = 0;
    // Of those, the bytes before the last chunk: the chunks themselves, framing included,
    // which a chunked client can be sent as they are. The last chunk and any trailers are
    // never relayed: the caller ends the body with its own "0\r\n\r\n".
    std::size_t relayable = 0;
    std::uint64_t data_bytes = 0;  // chunk data within `relayable` (the body's payload)
    bool done = false;             // the message ended within `taken`
    bool error = false;            // not a valid chunked body: nothing more can be trusted
  };

  // Scans `input`, which starts where the previous call's `taken` ended. `on_data(offset,
  // size)` is called for each run of chunk data within `relayable` (offsets into `input`),
  // for a caller that takes the framing off.
  template <class OnData>
  result scan(std::string_view input, OnData&& on_data);
  result scan(std::string_view input) {
    return scan(input, [](std::size_t, std::size_t) {});
  }

  bool done() const noexcept { return phase_ == phase::done; }
  // Inside a chunk (what was taken ends within its data or before its CRLF): the data bytes
  // still to come, and whether the chunk's CRLF is too. A relay that must end the body
  // early can complete the chunk before adding one of its own.
  bool in_chunk() const noexcept { return phase_ == phase::data || phase_ == phase::data_end; }
  std::uint64_t data_left() const noexcept { return phase_ == phase::data ? remaining_ : 0; }

 private:
  enum class phase { size_line, data, data_end, trailers, done };
  // Parses a complete chunk-size line (without its CRLF); false if malformed.
  static bool parse_size(std::string_view line, std::uint64_t& size) noexcept;

  phase phase_ = phase::size_line;
  std::uint64_t remaining_ = 0;  // data bytes left in the current chunk
};

template <class OnData>
chunked_scanner::result chunked_scanner::scan(std::string_view input, OnData&& on_data) {
  result r;
  std::size_t at = 0;
  auto stop = [&] {
    r.taken = at;
    if (phase_ != phase::trailers && phase_ != phase::done) r.relayable = at;
    return r;
  };
  while (at < input.size() && phase_ != phase::done) {
    switch (phase_) {
      case phase::size_line: {
        auto end = input.find("\r\n", at);
        if (end == std::string_view::npos) {
          if (input.size() - at > kMaxLine) r.error = true;
          return stop();
        }
        std::uint64_t size = 0;
        if (end - at > kMaxLine || !parse_size(input.substr(at, end - at), size)) {
          r.error = true;
          return stop();
        }
        if (size == 0) {
          // The last chunk: what came before it is relayable, it and the trailers are not.
          r.relayable = at;
          at = end + 2;
          phase_ = phase::trailers;
          break;
        }
        at = end + 2;
        remaining_ = size;
        phase_ = phase::data;
        break;
      }
      case phase::data: {
        auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, input.size() - at));
        on_data(at, n);
        r.data_bytes += n;
        at += n;
        remaining_ -= n;
        if (remaining_ == 0) phase_ = phase::data_end;
        break;
      }
      case phase::data_end:
        if (input.size() - at < 2) return stop();
        if (input.substr(at, 2) != "\r\n") {
          r.error = true;
          return stop();
        }
        at += 2;
        phase_ = phase::size_line;
        break;
      case phase::trailers: {
        // Field lines, then an empty line; taken whole.
        auto section = input.substr(at);
        std::size_t end = section.starts_with("\r\n") ? 0 : section.find("\r\n\r\n");
        if (end == std::string_view::npos) {
          if (section.size() > kMaxTrailers) r.error = true;
          r.taken = at;
          return r;
        }
        std::size_t length = end == 0 ? 2 : end + 4;
        if (length > kMaxTrailers) {
          r.error = true;
          r.taken = at;
          return r;
        }
        at += length;
        phase_ = phase::done;
        r.done = true;
        break;
      }
      case phase::done:
        break;
    }
  }
  if (phase_ == phase::done) {
    r.taken = at;
    r.done = true;
    return r;
  }
  return stop();
}

}  // namespace aigw::proxy
