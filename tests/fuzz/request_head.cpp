// A client's request as bytes, cut into reads as the input says: Beast's parser with the
// gateway's limits, the gateway's own framing checks, the endpoint, the caller's key, and then
// the upstream head each backend schema's adapter writes from it (OpenAI, Azure, Anthropic,
// Bedrock). Invariants: an upstream head is exactly one well-formed HTTP/1.1 request head
// (nothing a client sends can end it early or add a request: no injection), and it carries
// none of the client's credentials.
#include <optional>

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/range/iterator_range.hpp>

#include "aigw/config/loader.hpp"
#include "aigw/json/model_extractor.hpp"
#include "aigw/providers/adapter.hpp"
#include "aigw/proxy/clients.hpp"
#include "aigw/proxy/endpoints.hpp"
#include "aigw/proxy/header_policy.hpp"
#include "aigw/proxy/snapshot.hpp"
#include "fuzz_input.hpp"

namespace {

namespace http = boost::beast::http;

const aigw::proxy::snapshot& gateway() {
  static const auto snapshot = aigw::proxy::snapshot::compile(aigw::config::load_from_string(
      "backends:\n"
      "  - { name: openai, url: 'https://api.example.com/v1', api_key: sk-backend-openai }\n"
      "  - { name: azure, url: 'https://r.openai.azure.com', schema: azure-openai, "
      "api_version: '2024-10-21', api_key: azure-backend-key }\n"
      "  - { name: claude, url: 'https://api.anthropic.com', schema: anthropic, "
      "api_key: sk-ant-backend }\n"
      "  - { name: aws, schema: bedrock, region: us-east-1, api_key: bedrock-backend-key }\n"
      "routes: [{ backend: openai }]\n",
      [](std::string_view) { return std::nullopt; }));
  return *snapshot;
}

// `head` as a request head, when it is one whole head and nothing else.
std::optional<http::request<http::empty_body>> one_request_head(const std::string& head) {
  http::request_parser<http::empty_body> parser;
  parser.header_limit(1 << 20);
  boost::beast::error_code ec;
  auto used = parser.put(boost::asio::buffer(head), ec);
  if (ec || !parser.is_header_done() || used != head.size()) return std::nullopt;
  return parser.release();
}

// Whether a credential header of the client's reached the upstream (the backends' own
// credentials, which a client could send too, aside).
bool client_credential_sent(const http::fields& client, const http::fields& upstream) {
  for (auto name : {"authorization", "x-api-key", "api-key", "x-amz-security-token"}) {
    for (const auto& sent : boost::make_iterator_range(upstream.equal_range(name))) {
      if (sent.value().find("backend") != boost::beast::string_view::npos) continue;
      for (const auto& mine : boost::make_iterator_range(client.equal_range(name)))
        if (mine.value() == sent.value()) return true;
    }
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  aigw::fuzz::input in(data, size);
  auto seed = in.choice();
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(256 * 1024);
  std::string held;
  boost::beast::error_code ec;
  aigw::fuzz::in_pieces(in.rest(), seed, 128, [&](std::string_view piece) {
    if (ec || parser.is_done()) return;
    held.append(piece);
    auto used = parser.put(boost::asio::buffer(held), ec);
    held.erase(0, used);
    if (ec == http::error::need_more) ec = {};
  });
  if (ec || !parser.is_header_done()) return 0;
  auto& request = parser.get();

  // The gateway's own framing rules (server/session.cpp read_request).
  if (auto te = request.find(http::field::transfer_encoding);
      te != request.end() && !aigw::proxy::is_acceptable_transfer_encoding(te->value()))
    return 0;
  if (request.count(http::field::host) != 1) return 0;
  auto target = request.target();
  if (target.find('#') != boost::beast::string_view::npos) return 0;
  auto query_at = target.find('?');
  std::string_view path(target.data(),
                        query_at == boost::beast::string_view::npos ? target.size() : query_at);
  std::string_view query =
      query_at == boost::beast::string_view::npos
          ? std::string_view()
          : std::string_view(target.data() + query_at, target.size() - query_at);
  (void)aigw::proxy::client_table::presented_key(request.base());
  auto endpoint = aigw::proxy::classify(path);
  if (endpoint.kind == aigw::proxy::endpoint_kind::unknown) return 0;

  std::string body = parser.is_done() ? request.body() : std::string();
  aigw::json::request_fields fields;
  if (aigw::json::extract_request_fields(body, fields) != aigw::errc::ok) fields = {};
  auto model_header = request["x-ai-eg-model"];
  std::string_view model = fields.has_model
                               ? std::string_view(fields.model)
                               : std::string_view(model_header.data(), model_header.size());
  for (const auto& t : gateway().targets) {
    aigw::providers::upstream_call call{
        .method = {request.method_string().data(), request.method_string().size()},
        .rest = endpoint.rest,
        .query = query,
        .client_headers = request.base(),
        .original_body = body,
        .fields = fields,
        .client_model = model,
        .upstream_model = {},
        .request_id = "req-1",
        .api = endpoint.api};
    std::string head, scratch, detail;
    std::string_view sent;
    if (t.adapter->write_request(call, t, head, scratch, sent, detail) != aigw::errc::ok) continue;
    auto upstream = one_request_head(head);
    AIGW_FUZZ_CHECK(upstream.has_value());
    AIGW_FUZZ_CHECK(!client_credential_sent(request.base(), upstream->base()));
  }
  return 0;
}
