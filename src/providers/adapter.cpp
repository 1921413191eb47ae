#include "aigw/providers/adapter.hpp"

#include <fmt/format.h>

#include "document_util.hpp"

#include "aigw/providers/anthropic.hpp"
#include "aigw/proxy/header_policy.hpp"
#include "anthropic_adapter.hpp"
#include "azure_openai.hpp"
#include "bedrock_adapter.hpp"
#include "openai.hpp"

namespace aigw::providers {

std::string_view adapter::body_for(const upstream_call& call, std::string& scratch) {
  if (call.force_usage) {
    scratch = json::with_usage_forced(call.original_body, call.fields, call.upstream_model);
    return scratch;
  }
  if (call.upstream_model.empty() || !call.fields.has_model) return call.original_body;
  scratch = call.original_body;
  json::replace_model(scratch, call.fields, call.upstream_model);
  return scratch;
}

errc adapter::openai_operation(const upstream_call& call, const upstream::target& target,
                               std::string& scratch, std::string_view& rest, std::string_view& body,
                               std::string& detail) {
  if (call.api == client_api::openai) {
    rest = call.rest;
    body = body_for(call, scratch);
    return errc::ok;
  }
  if (call.method != "POST" || call.rest != "/messages") {
    detail = fmt::format("{} /v1{} has no counterpart on backend \"{}\" (an OpenAI-compatible API)",
                         call.method, call.rest.substr(0, 128), target.name);
    return errc::not_found;
  }
  std::string translated;
  if (auto why = anthropic::messages_to_chat(call.original_body, call.model(), translated);
      !why.empty()) {
    detail = std::move(why);
    return document::translation_error(detail);
  }
  scratch = std::move(translated);
  rest = "/chat/completions";
  body = scratch;
  return errc::ok;
}

errc adapter::finish_head(const upstream_call& call, const upstream::target& target,
                          std::size_t target_start, std::uint64_t body_size, std::string& head,
                          std::string& detail, std::string_view extra_fields, bool translated) {
  if (call.streamed_body_length > 0) body_size = call.streamed_body_length;
  auto e = proxy::finish_upstream_request_head(
      call.method, call.client_headers, target, target_start, body_size, head,
      {.identity_encoding = call.identity_encoding,
       .websocket = call.websocket,
       .request_id = call.request_id,
       .extra_fields = extra_fields,
       .content_type = translated ? "application/json" : ""});
  if (e != errc::ok) detail = "the upstream request target would carry a space, '#', CR, LF or NUL";
  return e;
}

const adapter& adapter_for(config::schema schema) noexcept {
  static const openai_adapter openai;
  static const azure_openai_adapter azure;
  static const anthropic_adapter anthropic;
  static const bedrock_adapter bedrock;
  switch (schema) {
    case config::schema::anthropic:
      return anthropic;
    case config::schema::bedrock:
      return bedrock;
    case config::schema::azure_openai:
      return azure;
    case config::schema::openai:
      break;
  }
  return openai;
}

}  // namespace aigw::providers
