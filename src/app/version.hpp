#pragma once
namespace aigw::app {
inline constexpr const char* kVersion = AIGW_VERSION;
}
