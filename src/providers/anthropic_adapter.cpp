#include "anthropic_adapter.hpp"

#include <fmt/format.h>

#include "document_util.hpp"

#include "aigw/providers/anthropic.hpp"

namespace aigw::providers {

errc anthropic_adapter::write_request(const upstream_call& call, const upstream::target& target,
                                      std::string& head, std::string& scratch,
                                      std::string_view& body, std::string& detail) const {
  bool anthropic_client = call.api == client_api::anthropic;
  bool served =
      call.method == "POST" &&
      (anthropic_client ? call.rest == "/messages" || call.rest == "/messages/count_tokens"
                        : call.rest == "/chat/completions");
  if (!served) {
    detail = fmt::format(
        "{} /v1{} has no counterpart on backend \"{}\" (schema anthropic serves chat "
        "completions and messages)",
        call.method, call.rest.substr(0, 128), target.name);
    return errc::not_found;
  }
  if (anthropic_client) {
    body = body_for(call, scratch);  // Anthropic's own request: as it came
  } else {
    // The model override goes into the OpenAI body first (a copy only with an override).
    auto source = body_for(call, scratch);
    std::string messages;
    if (auto why = anthropic::chat_to_messages(source, {.default_max_tokens = target.max_tokens},
                                               messages);
        !why.empty()) {
      detail = std::move(why);
      return document::translation_error(detail);
    }
    scratch = std::move(messages);
    body = scratch;
  }
  head.clear();
  head.append(call.method).append(" ");
  auto target_start = head.size();
  // The base URL may or may not name the version ("https://api.anthropic.com" or ".../v1").
  head.append(target.base_path).append(target.base_path.ends_with("/v1") ? "" : "/v1");
  if (anthropic_client)
    head.append(call.rest).append(call.query);  // ?beta=true, as Anthropic's clients send it
  else
    head.append("/messages");
  // The client's own anthropic-version (an Anthropic client's) goes as it came.
  bool has_version = call.client_headers.count("anthropic-version") > 0;
  return finish_head(call, target, target_start, body.size(), head, detail,
                     has_version ? std::string_view() : kVersionField, !anthropic_client);
}

}  // namespace aigw::providers
