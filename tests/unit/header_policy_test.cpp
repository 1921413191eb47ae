#include <doctest/doctest.h>

#include "aigw/config/loader.hpp"
#include "aigw/providers/adapter.hpp"
#include "aigw/proxy/header_policy.hpp"
#include "aigw/proxy/snapshot.hpp"

namespace http = boost::beast::http;
using aigw::proxy::append_request_headers;
using aigw::proxy::append_response_headers;
using aigw::proxy::body_framing;

namespace {

struct request_line {
  std::string_view method, rest, query, model;
};

// The upstream head the backend's adapter writes for this request, with a body of
// `body_size` bytes (no model override).
aigw::errc write_upstream_request_head(const request_line& line, const http::fields& client,
                                       const aigw::upstream::target& target, std::size_t body_size,
                                       std::string& head) {
  static const aigw::json::request_fields no_fields;
  std::string body(body_size, 'x'), scratch, detail;
  std::string_view sent;
  aigw::providers::upstream_call call{.method = line.method,
                                      .rest = line.rest,
                                      .query = line.query,
                                      .client_headers = client,
                                      .original_body = body,
                                      .fields = no_fields,
                                      .client_model = line.model,
                                      .upstream_model = {}};
  return target.adapter->write_request(call, target, head, scratch, sent, detail);
}

}  // namespace

TEST_CASE("request headers: hop-by-hop, framing, host and credentials stay behind") {
  http::fields in;
  in.set(http::field::host, "gateway:1975");
  in.set(http::field::connection, "keep-alive");
  in.insert(http::field::date, "Tue, 01 Dec 2026 00:00:00 GMT");
  in.insert(http::field::connection, "X-Private");  // a second Connection header counts too
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

  std::string out;
  append_request_headers(in, out);
  CHECK(out ==
        "Date: Tue, 01 Dec 2026 00:00:00 GMT\r\n"
        "Content-Type: application/json\r\n"
        "aigw-backend-selector: ollama\r\n"
        "OpenAI-Organization: org-1\r\n");
}

TEST_CASE("response headers: hop-by-hop and framing stay behind, the rest crosses") {
  http::fields in;
  in.set(http::field::connection, "close");
  in.set(http::field::transfer_encoding, "chunked");
  in.set(http::field::content_type, "text/event-stream");
  in.set("x-ratelimit-remaining-requests", "99");
  in.set(http::field::keep_alive, "timeout=5");
  std::string out;
  append_response_headers(in, out);
  CHECK(out ==
        "Content-Type: text/event-stream\r\n"
        "x-ratelimit-remaining-requests: 99\r\n");
}

TEST_CASE("the upstream request head: base path, query, Host, credentials, length") {
  auto config = aigw::config::load_from_string(
      "backends: [{ name: a, url: 'https://api.example.com:8443/openai/v1', api_key: sk-backend "
      "}]\n",
      [](std::string_view) { return std::nullopt; });
  auto snapshot = aigw::proxy::snapshot::compile(config);
  http::fields client;
  client.set(http::field::host, "localhost:1975");
  client.set(http::field::authorization, "Bearer sk-client");
  client.set(http::field::content_type, "application/json");
  std::string head;
  write_upstream_request_head({"POST", "/chat/completions", "?api-version=1", "gpt-4o"}, client,
                              snapshot->targets[0], 42, head);
  CHECK(head ==
        "POST /openai/v1/chat/completions?api-version=1 HTTP/1.1\r\n"
        "Content-Type: application/json\r\n"
        "Host: api.example.com:8443\r\n"
        "Authorization: Bearer sk-backend\r\n"
        "Content-Length: 42\r\n"
        "\r\n");
  write_upstream_request_head({"GET", "/responses/r1", "", ""}, client, snapshot->targets[0], 0,
                              head);
  CHECK(head.find("GET /openai/v1/responses/r1 HTTP/1.1\r\n") == 0);
  CHECK(head.find("Content-Length") == std::string::npos);
}

TEST_CASE("the Azure OpenAI request head: deployment path, api-version, api-key") {
  auto config = aigw::config::load_from_string(R"(
backends:
  - name: azure
    url: https://example-resource.openai.azure.com
    schema: azure-openai
    api_version: "2024-10-21"
    api_key: azure-key
    deployments: { gpt-4o: prod-gpt4o }
)",
                                               [](std::string_view) { return std::nullopt; });
  auto snapshot = aigw::proxy::snapshot::compile(config);
  http::fields client;
  client.set(http::field::authorization, "Bearer sk-client");
  std::string head;
  write_upstream_request_head({"POST", "/chat/completions", "", "gpt-4o"}, client,
                              snapshot->targets[0], 2, head);
  CHECK(head ==
        "POST /openai/deployments/prod-gpt4o/chat/completions?api-version=2024-10-21 HTTP/1.1\r\n"
        "Host: example-resource.openai.azure.com\r\n"
        "api-key: azure-key\r\n"
        "Content-Length: 2\r\n"
        "\r\n");
  // An unmapped model is its own deployment; a client's api-version wins.
  write_upstream_request_head(
      {"POST", "/embeddings", "?api-version=2025-01-01", "text-embedding-3-small"}, client,
      snapshot->targets[0], 2, head);
  CHECK(head.find("POST /openai/deployments/text-embedding-3-small/embeddings"
                  "?api-version=2025-01-01 HTTP/1.1\r\n") == 0);
}

TEST_CASE("the client response head: framing and connection") {
  http::fields upstream;
  upstream.set(http::field::content_type, "application/json");
  upstream.set(http::field::content_length, "17");
  upstream.set(http::field::connection, "close");
  std::string head;
  aigw::proxy::write_client_response_head(200, "OK", upstream, body_framing::content_length, 17,
                                          true, 11, head);
  CHECK(head == "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n");
  aigw::proxy::write_client_response_head(429, "", upstream, body_framing::chunked, 0, false, 11,
                                          head);
  CHECK(head ==
        "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
  aigw::proxy::write_client_response_head(200, "OK", upstream, body_framing::content_length, 17,
                                          true, 10, head);
  CHECK(head.find("Connection: keep-alive\r\n") != std::string::npos);
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

TEST_CASE("no client byte can end the upstream request line early, whatever the caller passes") {
  auto config = aigw::config::load_from_string(R"(
backends:
  - name: azure
    url: https://example-resource.openai.azure.com
    schema: azure-openai
    api_version: "2024-10-21"
    api_key: azure-key
    deployments: { mapped: prod-gpt4o }
  - name: plain
    url: http://127.0.0.1:11434/v1
routes:
  - { match: { model: "azure-*" }, backend: azure }
  - backend: plain
)",
                                               [](std::string_view) { return std::nullopt; });
  auto snapshot = aigw::proxy::snapshot::compile(config);
  const auto& azure = snapshot->targets[0];
  const auto& plain = snapshot->targets[1];
  http::fields client;
  std::string head;
  using aigw::errc;
  // A deployment from the client's model is one plain path segment, or refused.
  using namespace std::string_view_literals;
  for (auto model : {"x/chat/completions HTTP/1.1\r\nHost: a\r\n\r\nGET /x"sv, "../../admin"sv,
                     ".."sv, "."sv, "a/b"sv, "x?y"sv, "x#"sv, "x y"sv, "x%2f"sv, ""sv, "x\0y"sv}) {
    CAPTURE(model);
    CHECK(write_upstream_request_head({"POST", "/chat/completions", "", model}, client, azure, 2,
                                      head) == errc::unsafe_model_name);
  }
  // A mapped model names the configured deployment, whatever the client's model looks like.
  CHECK(write_upstream_request_head({"POST", "/chat/completions", "", "mapped"}, client, azure, 2,
                                    head) == errc::ok);
  CHECK(write_upstream_request_head({"POST", "/chat/completions", "", "gpt-4o:2024~x_y.z"}, client,
                                    azure, 2, head) == errc::ok);
  // The request line itself: no space, fragment, CR, LF or NUL, from the path or the query.
  for (auto query : {"?a=b c"sv, "?a#b"sv, "?a\rb"sv, "?a\nb"sv, "?a\0b"sv}) {
    CAPTURE(query);
    CHECK(write_upstream_request_head({"GET", "/responses/r1", query, ""}, client, plain, 0,
                                      head) == errc::bad_request);
  }
  CHECK(write_upstream_request_head({"GET", "/responses/r 1", "", ""}, client, plain, 0, head) ==
        errc::bad_request);
  CHECK(write_upstream_request_head({"GET", "/responses/r1", "?a=b", ""}, client, plain, 0, head) ==
        errc::ok);
}

TEST_CASE("Azure api_version and deployment names from the config are checked when compiled") {
  auto compile = [](const char* yaml) {
    return aigw::proxy::snapshot::compile(
        aigw::config::load_from_string(yaml, [](std::string_view) { return std::nullopt; }));
  };
  CHECK_THROWS_WITH_AS(compile(R"(
backends:
  - { name: az, url: "https://x.openai.azure.com", schema: azure-openai, api_version: "1&x=y" }
)"),
                       doctest::Contains("backends[0].api_version"), aigw::config::config_error);
  CHECK_THROWS_WITH_AS(compile(R"(
backends:
  - name: az
    url: "https://x.openai.azure.com"
    schema: azure-openai
    api_version: "2024-10-21"
    deployments: { gpt-4o: "../admin" }
)"),
                       doctest::Contains("backends[0].deployments.gpt-4o"),
                       aigw::config::config_error);
}

TEST_CASE("cookies and the forwarding chain do not cross the gateway") {
  http::fields in;
  in.set(http::field::cookie, "session=1");
  in.set(http::field::forwarded, "for=10.0.0.1");
  in.set(http::field::via, "1.1 corp");
  in.set("X-Forwarded-For", "10.0.0.1");
  in.set("X-Forwarded-Host", "intranet");
  in.set("X-Forwarded-Proto", "http");
  in.set("X-Real-IP", "10.0.0.1");
  in.set("X-Kept", "1");
  std::string out;
  append_request_headers(in, out);
  CHECK(out == "X-Kept: 1\r\n");
  http::fields response;
  response.set(http::field::set_cookie, "__cf_bm=x");
  response.set("X-Kept", "1");
  out.clear();
  append_response_headers(response, out);
  CHECK(out == "X-Kept: 1\r\n");
}
