#pragma once
// Glob matching on model names: `*` matches any run of characters (also empty), `?` exactly
// one; everything else matches itself. Linear time, no allocation.
#include <string_view>

namespace aigw::routing {

bool glob_match(std::string_view pattern, std::string_view text) noexcept;
// Whether a model pattern uses any wildcard, i.e. is not one exact model name.
bool is_glob(std::string_view pattern) noexcept;

}  // namespace aigw::routing
