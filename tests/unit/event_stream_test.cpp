// AWS event-stream frames: decoded across any split, both CRCs checked, and every kind of
// malformed frame refused without reading past it.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "aigw/proxy/event_stream.hpp"
#include "event_stream_frames.hpp"

using aigw::proxy::crc32;
using aigw::proxy::event_stream_decoder;
using aigw::test::frame;
using aigw::test::put32;
using status = event_stream_decoder::status;

namespace {

std::string delta(const std::string& text) {
  return frame({{":event-type", "contentBlockDelta"},
                {":content-type", "application/json"},
                {":message-type", "event"}},
               R"({"contentBlockIndex":0,"delta":{"text":")" + text + R"("}})");
}

}  // namespace

TEST_CASE("crc32 is zlib's") {
  CHECK(crc32("123456789") == 0xCBF43926u);
  CHECK(crc32("") == 0u);
}

TEST_CASE("event stream: messages decoded across every split") {
  auto stream = delta("Hel") + delta("lo") +
                frame({{":event-type", "messageStop"}}, R"({"stopReason":"end_turn"})");
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    event_stream_decoder decoder;
    std::vector<std::string> seen;
    auto collect = [&](const aigw::proxy::event_stream_message& m) {
      seen.push_back(std::string(m.header(":event-type")) + " " + std::string(m.payload));
    };
    CHECK(decoder.feed(std::string_view(stream).substr(0, split), collect) == status::ok);
    CHECK(decoder.feed(std::string_view(stream).substr(split), collect) == status::ok);
    REQUIRE(seen.size() == 3);
    CHECK(seen[0] == R"(contentBlockDelta {"contentBlockIndex":0,"delta":{"text":"Hel"}})");
    CHECK(seen[2] == R"(messageStop {"stopReason":"end_turn"})");
    CHECK(decoder.pending() == 0);
  }
}

TEST_CASE("event stream: headers of other types are skipped by their size") {
  std::string extra;
  auto header = [&](const std::string& name, char type, std::string value) {
    extra.push_back(static_cast<char>(name.size()));
    extra.append(name);
    extra.push_back(type);
    extra.append(value);
  };
  header("flag", 0, "");
  header("n", 4, std::string(4, '\1'));
  header("t", 8, std::string(8, '\2'));
  header("id", 9, std::string(16, '\3'));
  header("raw", 6, std::string("\0\3abc", 5));
  event_stream_decoder decoder;
  int messages = 0;
  CHECK(decoder.feed(frame({{":event-type", "x"}}, "{}", extra), [&](const auto& m) {
    ++messages;
    CHECK(m.headers.size() == 1);
    CHECK(m.payload == "{}");
  }) == status::ok);
  CHECK(messages == 1);
}

TEST_CASE("event stream: bad CRCs, impossible lengths and bad headers are errors, for good") {
  auto good = delta("x");
  auto decode = [](const std::string& bytes) {
    event_stream_decoder decoder;
    int messages = 0;
    auto s = decoder.feed(bytes, [&](const auto&) { ++messages; });
    CHECK(messages == 0);
    // Nothing after a bad frame is read, however good.
    CHECK(decoder.feed(delta("y"), [&](const auto&) { ++messages; }) == s);
    CHECK(messages == 0);
    return s;
  };

  auto prelude = good;
  prelude[9] ^= 1;
  CHECK(decode(prelude) == status::bad_prelude_crc);

  auto payload = good;
  payload[good.size() - 8] ^= 1;
  CHECK(decode(payload) == status::bad_message_crc);

  auto with_prelude = [](std::uint32_t total, std::uint32_t headers) {
    std::string out;
    put32(out, total);
    put32(out, headers);
    put32(out, crc32(out));
    return out + std::string(64, 'x');
  };
  CHECK(decode(with_prelude(2u << 20, 0)) == status::bad_length);  // over the 1 MiB bound
  CHECK(decode(with_prelude(8, 0)) == status::bad_length);         // shorter than its framing
  CHECK(decode(with_prelude(40, 100)) == status::bad_length);      // headers past the end

  CHECK(decode(frame({}, "{}", std::string("\1a\x0e", 3))) == status::bad_headers);  // no type 14
  CHECK(decode(frame({}, "{}", std::string("\5ab", 3))) == status::bad_headers);     // cut name
  CHECK(decode(frame({}, "{}", std::string("\1a\7\0\x09xy", 6))) ==
        status::bad_headers);  // cut value
}

TEST_CASE("event stream: a truncated frame waits for the rest, holding only it") {
  auto good = delta("x");
  event_stream_decoder decoder;
  int messages = 0;
  CHECK(decoder.feed(good.substr(0, good.size() - 1), [&](const auto&) { ++messages; }) ==
        status::ok);
  CHECK(messages == 0);
  CHECK(decoder.pending() == good.size() - 1);
  CHECK(decoder.feed(good.substr(good.size() - 1), [&](const auto&) { ++messages; }) == status::ok);
  CHECK(messages == 1);
}
