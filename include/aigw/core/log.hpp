#pragma once
// Logging to stderr. Each line is written with a single write(2), so lines from different
// workers never interleave. Nothing logged here may contain a secret: callers pass names,
// never credentials.
#include <chrono>
#include <cstdint>
#include <exception>
#include <string_view>

#include <fmt/format.h>

namespace aigw::log {

enum class level { debug, info, warn, error };

void write_line(std::string_view line) noexcept;
void set_min_level(level l) noexcept;
bool enabled(level l) noexcept;

template <class... Args>
void print(level l, fmt::format_string<Args...> format, Args&&... args) {
  if (!enabled(l)) return;
  fmt::memory_buffer buffer;
  fmt::format_to(std::back_inserter(buffer), format, std::forward<Args>(args)...);
  write_line({buffer.data(), buffer.size()});
}

template <class... Args>
void info(fmt::format_string<Args...> format, Args&&... args) {
  print(level::info, format, std::forward<Args>(args)...);
}
template <class... Args>
void warn(fmt::format_string<Args...> format, Args&&... args) {
  print(level::warn, format, std::forward<Args>(args)...);
}
template <class... Args>
void error(fmt::format_string<Args...> format, Args&&... args) {
  print(level::error, format, std::forward<Args>(args)...);
}

// An error line for what ended a coroutine (its completion's exception_ptr), when anything
// did: "<what>: <its message>".
void exception(std::string_view what, std::exception_ptr e) noexcept;

// A warning about a condition that may repeat many times a second (accept failing while out
// of file descriptors, connections refused over a limit): written at most once per
// interval, with how many were left out since the last line. One per thread of use.
class rate_limited_warning {
 public:
  explicit rate_limited_warning(std::chrono::steady_clock::duration interval)
      : interval_(interval) {}

  template <class... Args>
  void warn(fmt::format_string<Args...> format, Args&&... args) {
    auto now = std::chrono::steady_clock::now();
    if (written_ && now - last_ < interval_) {
      ++suppressed_;
      return;
    }
    if (!enabled(level::warn)) return;
    fmt::memory_buffer buffer;
    fmt::format_to(std::back_inserter(buffer), format, std::forward<Args>(args)...);
    if (suppressed_ > 0)
      fmt::format_to(std::back_inserter(buffer), " ({} more like this since the last line)",
                     suppressed_);
    write_line({buffer.data(), buffer.size()});
    written_ = true;
    last_ = now;
    suppressed_ = 0;
  }

 private:
  std::chrono::steady_clock::duration interval_;
  std::chrono::steady_clock::time_point last_{};
  bool written_ = false;
  std::uint64_t suppressed_ = 0;
};

}  // namespace aigw::log
