#include "aigw/core/units.hpp"

#include <charconv>
#include <limits>
#include <utility>

namespace aigw {
namespace {

// Splits "123unit" into 123 and "unit"; nullopt when there are no leading digits.
std::optional<std::pair<std::uint64_t, std::string_view>> split_number(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end == text.data()) return std::nullopt;
  return std::pair{value, text.substr(static_cast<size_t>(end - text.data()))};
}

std::optional<std::uint64_t> scale(std::uint64_t value, std::uint64_t factor) {
  if (value > std::numeric_limits<std::uint64_t>::max() / factor) return std::nullopt;
  return value * factor;
}

}  // namespace

std::optional<duration> parse_duration(std::string_view text) {
  auto parsed = split_number(text);
  if (!parsed) return std::nullopt;
  auto [value, unit] = *parsed;
  std::uint64_t factor_ms = 0;
  if (unit == "ms")
    factor_ms = 1;
  else if (unit == "s")
    factor_ms = 1000;
  else if (unit == "m")
    factor_ms = 60'000;
  else if (unit == "h")
    factor_ms = 3'600'000;
  else
    return std::nullopt;
  auto ms = scale(value, factor_ms);
  if (!ms || *ms > static_cast<std::uint64_t>(std::numeric_limits<duration::rep>::max()))
    return std::nullopt;
  return duration{static_cast<duration::rep>(*ms)};
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  auto parsed = split_number(text);
  if (!parsed) return std::nullopt;
  auto [value, unit] = *parsed;
  if (unit.empty() || unit == "B") return value;
  if (unit == "KiB") return scale(value, 1ull << 10);
  if (unit == "MiB") return scale(value, 1ull << 20);
  if (unit == "GiB") return scale(value, 1ull << 30);
  if (unit == "KB") return scale(value, 1000);
  if (unit == "MB") return scale(value, 1000'000);
  if (unit == "GB") return scale(value, 1000'000'000);
  return std::nullopt;
}

}  // namespace aigw
