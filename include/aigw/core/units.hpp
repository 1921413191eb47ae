#pragma once
// Human-written durations ("250ms", "5s", "3m", "1h") and sizes ("512B", "64KiB", "32MiB").
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace aigw {

using duration = std::chrono::milliseconds;

// Accepts <integer><unit> with unit ms, s, m or h. No unit, fractions or signs: a bare
// number is ambiguous in a config file.
std::optional<duration> parse_duration(std::string_view text);

// Accepts <integer>[unit] with unit B, KiB, MiB, GiB (powers of 1024) or KB, MB, GB (powers
// of 1000); a bare integer counts bytes.
std::optional<std::uint64_t> parse_size(std::string_view text);

}  // namespace aigw
