#include <doctest/doctest.h>

#include "aigw/proxy/header_policy.hpp"

namespace http = boost::beast::http;
using aigw::proxy::copy_request_headers;
using aigw::proxy::copy_response_headers;

TEST_CASE("request headers: hop-by-hop, framing, host and credentials stay behind") {
  http::fields in;
  in.set(http::field::host, "gateway:1975");
  in.set(http::field::connection, "keep-alive, X-Private");
  in.set(http::field::keep_alive, "timeout=5");
  in.set(http::field::te, "trailers");
  in.set(http::field::upgrade, "h2c");
  in.set(http::field::transfer_encoding, "chunked");
  in.set(http::field::content_length, "12");
  in.set(http::field::expect, "100-continue");
  in.set(http::field::authorization, "Bearer sk-client");
  in.set(http::field::proxy_authorization, "Basic eA==");
  in.set("Proxy-Connection", "keep-alive");
  in.set("api-key", "client-azure-key");
  in.set("X-Api-Key", "client-anthropic-key");
  in.set("x-private", "hop only");
  in.set(http::field::content_type, "application/json");
  in.set("aigw-backend-selector", "ollama");
  in.set("OpenAI-Organization", "org-1");

  http::fields out;
  copy_request_headers(in, out);
  CHECK(out[http::field::content_type] == "application/json");
  CHECK(out["aigw-backend-selector"] == "ollama");
  CHECK(out["openai-organization"] == "org-1");
  size_t count = 0;
  for (auto& f : out) {
    (void)f;
    ++count;
  }
  CHECK(count == 3);
}

TEST_CASE("response headers: hop-by-hop and framing stay behind, the rest crosses") {
  http::fields in;
  in.set(http::field::connection, "close");
  in.set(http::field::transfer_encoding, "chunked");
  in.set(http::field::content_type, "text/event-stream");
  in.set("x-ratelimit-remaining-requests", "99");
  in.set(http::field::keep_alive, "timeout=5");
  http::fields out;
  copy_response_headers(in, out);
  CHECK(out[http::field::content_type] == "text/event-stream");
  CHECK(out["x-ratelimit-remaining-requests"] == "99");
  CHECK(out.find(http::field::connection) == out.end());
  CHECK(out.find(http::field::transfer_encoding) == out.end());
  CHECK(out.find(http::field::keep_alive) == out.end());
}

TEST_CASE("only a plain chunked transfer coding is accepted on requests") {
  using aigw::proxy::is_acceptable_transfer_encoding;
  CHECK(is_acceptable_transfer_encoding("chunked"));
  CHECK(is_acceptable_transfer_encoding("Chunked"));
  CHECK_FALSE(is_acceptable_transfer_encoding("chunked, identity"));
  CHECK_FALSE(is_acceptable_transfer_encoding("gzip, chunked"));
  CHECK_FALSE(is_acceptable_transfer_encoding("xchunked"));
  CHECK_FALSE(is_acceptable_transfer_encoding(""));
}
