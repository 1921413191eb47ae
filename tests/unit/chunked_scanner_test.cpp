#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "proxy/chunked_scanner.hpp"

using aigw::proxy::chunked_scanner;

namespace {

struct fed {
  std::string relayed;  // bytes a chunked client would be sent as they are
  std::string data;     // the payload
  bool done = false;
  bool error = false;
  std::size_t left = 0;  // bytes after the message (out of turn)
};

// Feeds `body` in pieces of `step` bytes as a relay does: what a scan does not take is kept
// and presented again with the next piece.
fed feed(std::string_view body, std::size_t step) {
  chunked_scanner scanner;
  fed out;
  std::string pending;
  std::size_t at = 0;
  while (!out.done && !out.error) {
    if (at < body.size()) {
      auto n = std::min(step, body.size() - at);
      pending.append(body.substr(at, n));
      at += n;
    }
    auto r = scanner.scan(
        pending, [&](std::size_t offset, std::size_t n) { out.data.append(pending, offset, n); });
    out.relayed.append(pending, 0, r.relayable);
    pending.erase(0, r.taken);
    out.done = r.done;
    out.error = r.error;
    if (at == body.size() && r.taken == 0 && !r.done) break;  // starved: incomplete body
  }
  out.left = pending.size() + (body.size() - at);
  return out;
}

}  // namespace

TEST_CASE("a chunked body is relayed as it came, whatever the read sizes, up to its last chunk") {
  std::string body =
      "7\r\ndata: 1\r\n"
      "A;name=\"v\"\r\n0123456789\r\n"
      "1b\r\ndata: {\"choices\":[]}\n\ndata:\r\n"
      "0\r\n\r\n";
  auto chunks_only = body.substr(0, body.size() - 5);
  for (std::size_t step : {1u, 2u, 3u, 5u, 7u, 16u, 4096u}) {
    CAPTURE(step);
    auto r = feed(body, step);
    CHECK(r.done);
    CHECK_FALSE(r.error);
    CHECK(r.relayed == chunks_only);
    CHECK(r.data == "data: 10123456789data: {\"choices\":[]}\n\ndata:");
    CHECK(r.left == 0);
  }
}

TEST_CASE("trailers end the body but are never relayed; bytes after the end are left") {
  auto r = feed("3\r\nabc\r\n0\r\nX-Trailer: 1\r\nY: 2\r\n\r\nHTTP/1.1 200 OK\r\n", 4);
  CHECK(r.done);
  CHECK(r.relayed == "3\r\nabc\r\n");
  CHECK(r.data == "abc");
  CHECK(r.left == std::string_view("HTTP/1.1 200 OK\r\n").size());
}

TEST_CASE("an incomplete body is not done and keeps its partial line") {
  auto r = feed("3\r\nabc\r\n1", 100);
  CHECK_FALSE(r.done);
  CHECK_FALSE(r.error);
  CHECK(r.relayed == "3\r\nabc\r\n");
  CHECK(r.left == 1);
}

TEST_CASE("malformed framing is an error, never relayed") {
  for (std::string_view bad : {
           "x\r\nabc\r\n0\r\n\r\n",        // not hex
           "\r\n",                         // no size
           "3\r\nabcd\r\n0\r\n\r\n",       // data longer than its size
           "3\nabc\r\n0\r\n\r\n",          // bare LF
           "1000000000000000\r\n",         // 16 digits: too large
           "3 x\r\nabc\r\n0\r\n\r\n",      // junk after the size
           "3;a\x01\r\nabc\r\n0\r\n\r\n",  // a control byte in an extension
           "-1\r\n",                       // a sign
       }) {
    CAPTURE(bad);
    auto r = feed(bad, 3);
    CHECK(r.error);
    CHECK_FALSE(r.done);
  }
}

TEST_CASE("lines are bounded: a size line or trailers that never end are errors") {
  std::string endless(chunked_scanner::kMaxLine + 10, '0');
  CHECK(feed(endless, 512).error);
  std::string trailers = "0\r\n" + std::string(chunked_scanner::kMaxTrailers + 10, 'x');
  CHECK(feed(trailers, 512).error);
}
