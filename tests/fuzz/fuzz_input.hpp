#pragma once
// What the fuzz targets share: the input as bytes, split points drawn from it (so that one
// input also decides how a stream is cut into reads), and a check that aborts, so that
// libFuzzer and the replay both stop at a broken invariant, not only at a crash.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace aigw::fuzz {

// The input, read front to back: a few bytes of choices first, the rest as data.
class input {
 public:
  input(const std::uint8_t* data, std::size_t size)
      : bytes_(reinterpret_cast<const char*>(data), size) {}
  // One byte of choice (0 when the input has run out).
  std::uint8_t choice() {
    if (bytes_.empty()) return 0;
    auto c = static_cast<std::uint8_t>(bytes_.front());
    bytes_.remove_prefix(1);
    return c;
  }
  std::string_view rest() const { return bytes_; }

 private:
  std::string_view bytes_;
};

// Calls `feed(piece)` for consecutive pieces of `data`, cut every 1 to `max_piece` bytes as
// the seed says (a small linear congruential sequence: the same seed, the same cuts).
template <class Feed>
void in_pieces(std::string_view data, std::uint8_t seed, std::size_t max_piece, Feed&& feed) {
  std::uint32_t state = seed * 2654435761u + 1;
  while (!data.empty()) {
    state = state * 1103515245u + 12345u;
    std::size_t n = seed == 0 ? data.size() : 1 + (state >> 8) % max_piece;
    n = n < data.size() ? n : data.size();
    feed(data.substr(0, n));
    data.remove_prefix(n);
  }
}

[[noreturn]] inline void broken(const char* what) {
  std::fprintf(stderr, "invariant broken: %s\n", what);
  std::abort();
}
#define AIGW_FUZZ_CHECK(condition)                      \
  do {                                                  \
    if (!(condition)) ::aigw::fuzz::broken(#condition); \
  } while (0)

}  // namespace aigw::fuzz
