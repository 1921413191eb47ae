#include <doctest/doctest.h>

#include "aigw/core/units.hpp"

using namespace std::chrono_literals;

TEST_CASE("durations need a unit and take ms, s, m, h") {
  CHECK(aigw::parse_duration("250ms") == 250ms);
  CHECK(aigw::parse_duration("5s") == 5s);
  CHECK(aigw::parse_duration("3m") == 3min);
  CHECK(aigw::parse_duration("1h") == 1h);
  CHECK_FALSE(aigw::parse_duration("5"));
  CHECK_FALSE(aigw::parse_duration("5 s"));
  CHECK_FALSE(aigw::parse_duration("-5s"));
  CHECK_FALSE(aigw::parse_duration("1.5s"));
  CHECK_FALSE(aigw::parse_duration("5 parsecs"));
  CHECK_FALSE(aigw::parse_duration(""));
  CHECK_FALSE(aigw::parse_duration("99999999999999999999h"));
}

TEST_CASE("sizes take binary and decimal units, bare numbers are bytes") {
  CHECK(aigw::parse_size("512") == 512u);
  CHECK(aigw::parse_size("512B") == 512u);
  CHECK(aigw::parse_size("64KiB") == 65536u);
  CHECK(aigw::parse_size("32MiB") == 32u << 20);
  CHECK(aigw::parse_size("1GiB") == 1u << 30);
  CHECK(aigw::parse_size("2KB") == 2000u);
  CHECK_FALSE(aigw::parse_size("32mb"));
  CHECK_FALSE(aigw::parse_size("KiB"));
  CHECK_FALSE(aigw::parse_size("99999999999999999GiB"));
}
