#pragma once
// Server-Sent Events, read incrementally as a response arrives (the WHATWG event-stream
// grammar): CRLF, CR or LF line ends, `field: value` with or without the space, comments,
// multi-line `data`, and the `event:` name. An event may be split over any number of reads.
// Only a line cut by the end of a read is copied (to be completed by the next); the bytes
// held are bounded: a longer line or event is dropped, not grown without limit.
#include <cstddef>
#include <string>
#include <string_view>

namespace aigw::proxy {

// For the stages that keep events whole as bytes: the offset just past the blank line that
// ends the first event in `text` whose end lies at or after `from` (LF LF, or LF CR LF), or
// npos when no event ends there yet.
inline std::size_t find_event_end(std::string_view text, std::size_t from) noexcept {
  auto lf = text.find("\n\n", from);
  auto crlf = text.find("\n\r\n", from);
  if (crlf != std::string_view::npos && (lf == std::string_view::npos || crlf < lf))
    return crlf + 3;
  return lf == std::string_view::npos ? lf : lf + 2;
}

class sse_scanner {
 public:
  // The most a single line, or an event's data, may hold.
  static constexpr std::size_t kMaxHeld = 1u << 20;

  // Feeds the next bytes of the stream. `on_event(event_name, data)` is called for each
  // event that ends within them (data lines joined by "\n"; the name "" when none was given).
  template <class OnEvent>
  void feed(std::string_view bytes, OnEvent&& on_event);

  // For the next stream: nothing held, the buffers' capacity kept.
  void reset() noexcept {
    partial_.clear();
    event_.clear();
    data_.clear();
    after_cr_ = overflow_ = has_data_ = false;
  }

 private:
  template <class OnEvent>
  void line(std::string_view text, OnEvent& on_event);

  std::string partial_;    // a line cut by the end of the last read
  bool after_cr_ = false;  // the last read ended in CR: a LF first is part of that line end
  bool overflow_ = false;  // the current line is over the bound: skipped to its end
  std::string event_;
  std::string data_;
  bool has_data_ = false;
};

template <class OnEvent>
void sse_scanner::feed(std::string_view bytes, OnEvent&& on_event) {
  std::size_t at = 0;
  if (after_cr_ && !bytes.empty() && bytes[0] == '\n') at = 1;
  after_cr_ = false;
  while (at < bytes.size()) {
    auto end = bytes.find_first_of("\r\n", at);
    if (end == std::string_view::npos) {
      if (!overflow_ && partial_.size() + (bytes.size() - at) <= kMaxHeld)
        partial_.append(bytes.substr(at));
      else
        overflow_ = true, partial_.clear();
      return;
    }
    auto text = bytes.substr(at, end - at);
    if (overflow_) {
      overflow_ = false;  // the end of a line too long to keep: dropped
    } else if (!partial_.empty()) {
      partial_.append(text);
      line(partial_, on_event);
      partial_.clear();
    } else {
      line(text, on_event);
    }
    at = end + 1;
    if (bytes[end] == '\r') {
      if (at < bytes.size() && bytes[at] == '\n')
        ++at;
      else if (at == bytes.size())
        after_cr_ = true;
    }
  }
}

template <class OnEvent>
void sse_scanner::line(std::string_view text, OnEvent& on_event) {
  if (text.empty()) {  // the end of an event
    if (has_data_) on_event(std::string_view(event_), std::string_view(data_));
    event_.clear();
    data_.clear();
    has_data_ = false;
    return;
  }
  if (text[0] == ':') return;  // a comment
  auto colon = text.find(':');
  auto field = text.substr(0, colon);
  auto value = colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
  if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  if (field == "data") {
    if (data_.size() + value.size() + 1 > kMaxHeld) return;  // over the bound: not kept
    if (has_data_) data_.push_back('\n');
    data_.append(value);
    has_data_ = true;
  } else if (field == "event") {
    event_.assign(value.substr(0, 256));
  }
}

}  // namespace aigw::proxy
