#include <doctest/doctest.h>

#include "aigw/config/loader.hpp"
#include "aigw/providers/adapter.hpp"
#include "aigw/proxy/snapshot.hpp"

namespace http = boost::beast::http;
using aigw::errc;

namespace {

std::shared_ptr<const aigw::proxy::snapshot> compile(const char* yaml) {
  return aigw::proxy::snapshot::compile(
      aigw::config::load_from_string(yaml, [](std::string_view) { return std::nullopt; }));
}

// A request as the session hands it to an adapter: the body, the fields found in it, the
// client's headers, and the call over them.
struct client_request {
  client_request(std::string body, std::string_view rest, std::string_view model)
      : original(std::move(body)),
        call{.method = "POST",
             .rest = rest,
             .query = "",
             .client_headers = client,
             .original_body = original,
             .fields = fields,
             .client_model = model,
             .upstream_model = {}} {
    REQUIRE(aigw::json::extract_request_fields(original, fields) == errc::ok);
  }
  std::string original;
  aigw::json::request_fields fields;
  http::fields client;
  aigw::providers::upstream_call call;
};

}  // namespace

TEST_CASE("the openai adapter sends the original body itself, and a copy only to override") {
  auto s = compile("backends: [{ name: o, url: 'http://127.0.0.1:9/v1', api_key: k }]\n");
  const auto& target = s->targets[0];
  client_request request(R"({"model":"alias","messages":[]})", "/chat/completions", "alias");
  const auto& original = request.original;
  auto& call = request.call;
  const std::string before = original;
  std::string head, scratch, detail;
  std::string_view body;
  REQUIRE(target.adapter->write_request(call, target, head, scratch, body, detail) == errc::ok);
  CHECK(body.data() == original.data());  // identity: no copy
  CHECK(head.find("POST /v1/chat/completions HTTP/1.1\r\n") == 0);
  CHECK(head.find("Authorization: Bearer k\r\n") != std::string::npos);

  call.upstream_model = "real-model";
  REQUIRE(target.adapter->write_request(call, target, head, scratch, body, detail) == errc::ok);
  CHECK(body == R"({"model":"real-model","messages":[]})");
  CHECK(body.data() == scratch.data());
  CHECK(original == before);  // the original is kept for another attempt
  CHECK(head.find("Content-Length: " + std::to_string(body.size()) + "\r\n") != std::string::npos);
}

TEST_CASE("the azure adapter puts the model's deployment in the path and the key in api-key") {
  auto s = compile(R"(
backends:
  - { name: az, url: "https://r.openai.azure.com", schema: azure-openai, api_version: "2024-10-21",
      api_key: k, deployments: { alias: prod } }
)");
  const auto& target = s->targets[0];
  client_request request(R"({"model":"alias"})", "/embeddings", "alias");
  auto& call = request.call;
  std::string head, scratch, detail;
  std::string_view body;
  REQUIRE(target.adapter->write_request(call, target, head, scratch, body, detail) == errc::ok);
  CHECK(head.find("POST /openai/deployments/prod/embeddings?api-version=2024-10-21 HTTP/1.1\r\n") ==
        0);
  CHECK(head.find("api-key: k\r\n") != std::string::npos);
  call.client_model = "../x";
  CHECK(target.adapter->write_request(call, target, head, scratch, body, detail) ==
        errc::unsafe_model_name);
  CHECK(detail.find("is not a deployment name of backend \"az\"") != std::string::npos);
}

TEST_CASE("the bedrock adapter refuses a model id of dots, which would walk the signed path") {
  auto s = compile(R"(
backends:
  - { name: br, schema: bedrock, region: us-east-1,
      aws: { access_key_id: AKIDEXAMPLE, secret_access_key: secret } }
)");
  const auto& target = s->targets[0];
  client_request request(R"({"model":"m","messages":[{"role":"user","content":"hi"}]})",
                         "/chat/completions", "meta.llama3");
  auto& call = request.call;
  std::string head, scratch, detail;
  std::string_view body;
  REQUIRE(target.adapter->write_request(call, target, head, scratch, body, detail) == errc::ok);
  CHECK(head.find("POST /model/meta.llama3/converse HTTP/1.1\r\n") == 0);
  for (auto model : {"..", ".", "...", ""}) {
    call.client_model = model;
    CHECK_MESSAGE(target.adapter->write_request(call, target, head, scratch, body, detail) ==
                      errc::unsafe_model_name,
                  model);
  }
  call.client_model = "../x";  // one segment, its '/' encoded
  REQUIRE(target.adapter->write_request(call, target, head, scratch, body, detail) == errc::ok);
  CHECK(head.find("POST /model/..%2Fx/converse HTTP/1.1\r\n") == 0);
}
