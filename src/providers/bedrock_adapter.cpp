#include "bedrock_adapter.hpp"

#include <chrono>

#include <fmt/format.h>

#include "document_util.hpp"

#include "aigw/core/percent_encoding.hpp"
#include "aigw/providers/bedrock.hpp"
#include "aigw/upstream/sigv4.hpp"

namespace aigw::providers {

errc bedrock_adapter::write_request(const upstream_call& call, const upstream::target& target,
                                    std::string& head, std::string& scratch, std::string_view& body,
                                    std::string& detail) const {
  if (call.api != client_api::openai || call.method != "POST" || call.rest != "/chat/completions") {
    detail = fmt::format(
        "{} /v1{} has no counterpart on backend \"{}\" (schema bedrock serves chat completions)",
        call.method, call.rest.substr(0, 128), target.name);
    return errc::not_found;
  }
  std::string converse;
  if (auto why = bedrock::chat_to_converse(call.original_body, target.max_tokens, converse);
      !why.empty()) {
    detail = std::move(why);
    return document::translation_error(detail);
  }
  scratch = std::move(converse);
  body = scratch;

  head.clear();
  head.append(call.method).append(" ");
  auto target_start = head.size();
  head.append(target.base_path).append("/model/");
  // The model id as one path segment: "anthropic.claude-3-5-sonnet-20240620-v1:0" has a ':',
  // and a client's model may have anything. Percent-encoding leaves '.' as it is, so a
  // model of dots alone would be a dot segment, which a server resolves (/model/../x).
  auto model_id = target.deployment_for(call.model());
  if (model_id.empty() || model_id.find_first_not_of('.') == std::string_view::npos) {
    detail = fmt::format("\"{}\" is not a model id of backend \"{}\"", call.model().substr(0, 128),
                         target.name);
    return errc::unsafe_model_name;
  }
  percent_encode(model_id, head);
  head.append(call.fields.stream ? "/converse-stream" : "/converse");

  if (!target.credential_name.empty())  // a Bedrock API key: no signature
    return finish_head(call, target, target_start, body.size(), head, detail, {}, true);
  // SigV4 over what identifies the request: host, date, token, and the body's hash.
  auto date = upstream::amz_date(std::chrono::system_clock::now());
  upstream::sigv4_request signed_request{
      .method = call.method,
      .path = std::string_view(head).substr(target_start),
      .query = {},
      .headers = {{"host", target.host_header}, {"x-amz-date", date}},
      .payload = body};
  if (!target.aws.session_token.empty())
    signed_request.headers.emplace_back("x-amz-security-token", target.aws.session_token);
  auto authorization =
      upstream::sigv4_authorization(signed_request, target.aws, target.region, "bedrock", date);
  auto fields = fmt::format("x-amz-date: {}\r\nAuthorization: {}\r\n", date, authorization);
  if (!target.aws.session_token.empty())
    fmt::format_to(std::back_inserter(fields), "x-amz-security-token: {}\r\n",
                   target.aws.session_token);
  return finish_head(call, target, target_start, body.size(), head, detail, fields, true);
}

}  // namespace aigw::providers
