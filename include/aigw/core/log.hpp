#pragma once
// Logging to stderr. Each line is written with a single write(2), so lines from different
// workers never interleave. Nothing logged here may contain a secret: callers pass names,
// never credentials.
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

}  // namespace aigw::log
