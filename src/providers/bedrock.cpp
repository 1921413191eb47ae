#include "aigw/providers/bedrock.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "document_util.hpp"

namespace aigw::providers::bedrock {
namespace {

namespace json = boost::json;
using document::add_turn;
using document::count_of;
using document::text_of;

// The image formats Converse takes, by media type.
std::string_view image_format(std::string_view media_type) {
  if (media_type == "image/png") return "png";
  if (media_type == "image/jpeg" || media_type == "image/jpg") return "jpeg";
  if (media_type == "image/gif") return "gif";
  if (media_type == "image/webp") return "webp";
  return {};
}

// An OpenAI content value as Converse content blocks.
std::string content_blocks(const json::value& content, json::array& out) {
  if (content.is_string()) {
    if (!content.as_string().empty()) out.push_back(json::object{{"text", content}});
    return {};
  }
  if (content.is_null()) return {};
  if (!content.is_array()) return "message content must be a string or an array of parts";
  for (const auto& part : content.as_array()) {
    const auto* object = part.if_object();
    if (!object) return "a content part must be an object";
    auto type = text_of(object->if_contains("type"));
    if (type == "text") {
      out.push_back(json::object{{"text", text_of(object->if_contains("text"))}});
    } else if (type == "image_url") {
      const auto* image = object->if_contains("image_url");
      auto url = image && image->is_object() ? text_of(image->as_object().if_contains("url"))
                                             : text_of(image);
      auto semicolon = url.find(";base64,");
      if (!url.starts_with("data:") || semicolon == std::string_view::npos)
        return "a Bedrock backend takes images as base64 data: URLs only";
      auto format = image_format(url.substr(5, semicolon - 5));
      if (format.empty())
        return fmt::format("image type \"{}\" is not one Bedrock takes (png, jpeg, gif, webp)",
                           url.substr(5, semicolon - 5));
      out.push_back(json::object{
          {"image", {{"format", format}, {"source", {{"bytes", url.substr(semicolon + 8)}}}}}});
    } else {
      return fmt::format("content parts of type \"{}\" cannot be sent to a Bedrock backend", type);
    }
  }
  return {};
}

}  // namespace

std::string_view finish_reason(std::string_view stop_reason) noexcept {
  if (stop_reason == "max_tokens") return "length";
  if (stop_reason == "tool_use") return "tool_calls";
  if (stop_reason == "guardrail_intervened" || stop_reason == "content_filtered")
    return "content_filter";
  return "stop";  // end_turn, stop_sequence
}

std::string chat_to_converse(std::string_view openai_body, std::uint32_t default_max_tokens,
                             std::string& out) {
  document::request_document doc(openai_body);
  if (!doc.problem().empty()) return doc.problem();
  const auto& in = doc.object();
  if (const auto* n = in.if_contains("n"); n && n->is_int64() && n->as_int64() != 1)
    return "n other than 1 cannot be sent to a Bedrock backend";
  json::array system, messages;
  const auto* list = in.if_contains("messages");
  if (!list || !list->is_array()) return "messages must be an array";
  for (const auto& item : list->as_array()) {
    const auto* message = item.if_object();
    if (!message) return "a message must be an object";
    auto role = text_of(message->if_contains("role"));
    const auto* content = message->if_contains("content");
    json::array blocks;
    if (content)
      if (auto why = content_blocks(*content, blocks); !why.empty()) return why;
    if (role == "system" || role == "developer") {
      for (auto& b : blocks)
        if (b.as_object().contains("text")) system.push_back(std::move(b));
    } else if (role == "user") {
      add_turn(messages, "user", std::move(blocks));
    } else if (role == "assistant") {
      if (const auto* calls = message->if_contains("tool_calls"); calls && calls->is_array()) {
        for (const auto& call : calls->as_array()) {
          std::string_view id, name;
          json::value input;
          if (auto why = document::read_tool_call(call, id, name, input); !why.empty()) return why;
          blocks.push_back(json::object{
              {"toolUse", {{"toolUseId", id}, {"name", name}, {"input", std::move(input)}}}});
        }
      }
      add_turn(messages, "assistant", std::move(blocks));
    } else if (role == "tool") {
      json::array result;
      for (auto& b : blocks)
        if (b.as_object().contains("text")) result.push_back(std::move(b));
      if (result.empty()) result.push_back(json::object{{"text", ""}});
      json::array turn;
      turn.push_back(json::object{{"toolResult",
                                   {{"toolUseId", text_of(message->if_contains("tool_call_id"))},
                                    {"content", std::move(result)}}}});
      add_turn(messages, "user", std::move(turn));
    } else {
      return fmt::format("messages of role \"{}\" cannot be sent to a Bedrock backend", role);
    }
  }
  if (auto instruction = document::format_instruction(in); !instruction.empty())
    system.push_back(json::object{{"text", instruction}});
  json::object result{{"messages", std::move(messages)}};
  if (!system.empty()) result["system"] = std::move(system);

  json::object inference;
  std::uint64_t max_tokens = default_max_tokens;
  if (auto why = document::read_max_tokens(in, max_tokens); !why.empty()) return why;
  if (max_tokens) inference["maxTokens"] = max_tokens;
  if (const auto* t = in.if_contains("temperature"); t && t->is_number())
    inference["temperature"] = *t;
  if (const auto* p = in.if_contains("top_p"); p && p->is_number()) inference["topP"] = *p;
  if (auto stop = document::stop_sequences(in)) inference["stopSequences"] = std::move(*stop);
  if (!inference.empty()) result["inferenceConfig"] = std::move(inference);

  if (const auto* tools = in.if_contains("tools");
      tools && tools->is_array() && !tools->as_array().empty()) {
    json::array specs;
    for (const auto& tool : tools->as_array()) {
      const auto* t = tool.if_object();
      const auto* function = t ? t->if_contains("function") : nullptr;
      if (!function || !function->is_object()) return "a tool needs a function";
      const auto& f = function->as_object();
      json::object spec{{"name", text_of(f.if_contains("name"))}};
      if (auto d = text_of(f.if_contains("description")); !d.empty()) spec["description"] = d;
      const auto* parameters = f.if_contains("parameters");
      spec["inputSchema"] = {{"json", parameters && parameters->is_object()
                                          ? *parameters
                                          : json::value(json::object{{"type", "object"}})}};
      specs.push_back(json::object{{"toolSpec", std::move(spec)}});
    }
    json::object config{{"tools", std::move(specs)}};
    if (const auto* c = in.if_contains("tool_choice")) {
      if (c->is_string()) {
        auto mode = std::string_view(c->as_string());
        if (mode == "required")
          config["toolChoice"] = {{"any", json::object()}};
        else if (mode == "auto")
          config["toolChoice"] = {{"auto", json::object()}};
      } else if (c->is_object()) {
        const auto* function = c->as_object().if_contains("function");
        config["toolChoice"] = {{"tool",
                                 {{"name", function && function->is_object()
                                               ? text_of(function->as_object().if_contains("name"))
                                               : std::string_view()}}}};
      }
    }
    result["toolConfig"] = std::move(config);
  }
  document::serialize_request(result, openai_body.size(), out);
  return {};
}

bool converse_to_chat(std::string_view body, std::string_view id, std::string_view model,
                      std::int64_t created, std::string& out,
                      aigw::json::usage_reading* usage_out) {
  boost::system::error_code ec;
  auto doc = json::parse(body, ec);
  if (ec || !doc.is_object()) return false;
  const auto& in = doc.as_object();
  const auto* output = in.if_contains("output");
  const auto* message =
      output && output->is_object() ? output->as_object().if_contains("message") : nullptr;
  if (!message || !message->is_object()) return false;
  std::string text, reasoning;
  json::array tool_calls;
  if (const auto* content = message->as_object().if_contains("content");
      content && content->is_array()) {
    for (const auto& block : content->as_array()) {
      const auto* b = block.if_object();
      if (!b) continue;
      if (const auto* t = b->if_contains("text")) {
        text += text_of(t);
      } else if (const auto* r = b->if_contains("reasoningContent"); r && r->is_object()) {
        const auto* rt = r->as_object().if_contains("reasoningText");
        if (rt && rt->is_object()) reasoning += text_of(rt->as_object().if_contains("text"));
      } else if (const auto* u = b->if_contains("toolUse"); u && u->is_object()) {
        const auto& use = u->as_object();
        const auto* input = use.if_contains("input");
        tool_calls.push_back(
            {{"id", text_of(use.if_contains("toolUseId"))},
             {"type", "function"},
             {"function",
              {{"name", text_of(use.if_contains("name"))},
               {"arguments", input ? json::serialize(*input) : std::string("{}")}}}});
      }
    }
  }
  json::object reply{{"role", "assistant"}};
  reply["content"] = text.empty() && !tool_calls.empty() ? json::value(nullptr) : json::value(text);
  if (!reasoning.empty()) reply["reasoning_content"] = reasoning;
  if (!tool_calls.empty()) reply["tool_calls"] = std::move(tool_calls);
  json::object result{
      {"id", id}, {"object", "chat.completion"}, {"created", created}, {"model", model}};
  result["choices"] =
      json::array{{{"index", 0},
                   {"message", std::move(reply)},
                   {"finish_reason", finish_reason(text_of(in.if_contains("stopReason")))}}};
  if (const auto* usage = in.if_contains("usage"); usage && usage->is_object()) {
    const auto& u = usage->as_object();
    auto cache_read = count_of(u.if_contains("cacheReadInputTokens"));
    auto cache_write = count_of(u.if_contains("cacheWriteInputTokens"));
    auto prompt = count_of(u.if_contains("inputTokens")) + cache_read + cache_write;
    auto completion = count_of(u.if_contains("outputTokens"));
    if (usage_out) {
      usage_out->found = true;
      usage_out->input = prompt;
      usage_out->output = completion;
      usage_out->cached_input = cache_read;
      usage_out->cache_creation_input = cache_write;
      usage_out->model = model;
    }
    result["usage"] = {{"prompt_tokens", prompt},
                       {"completion_tokens", completion},
                       {"total_tokens", prompt + completion},
                       {"prompt_tokens_details", {{"cached_tokens", cache_read}}}};
  }
  out = json::serialize(result);
  return true;
}

void error_to_openai(std::string_view error_type, std::string_view body, std::string& out) {
  // "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"
  auto type = error_type.substr(0, error_type.find(':'));
  if (type.empty()) type = "BedrockError";
  boost::system::error_code ec;
  auto doc = json::parse(body, ec);
  std::string_view message = "the Bedrock backend returned an error";
  if (!ec && doc.is_object())
    for (auto key : {"message", "Message"})
      if (auto m = text_of(doc.as_object().if_contains(key)); !m.empty()) {
        message = m;
        break;
      }
  // An authentication failure's message may quote what was signed (a session token among
  // it): the client learns that the gateway's credentials were refused, not more.
  for (std::string_view auth : {"InvalidSignatureException", "SignatureDoesNotMatch",
                                "IncompleteSignature", "UnrecognizedClientException",
                                "ExpiredTokenException", "MissingAuthenticationTokenException"})
    if (type == auth) message = "the Bedrock backend refused the gateway's AWS credentials";
  bool client_fault = type == "ValidationException" || type == "ResourceNotFoundException" ||
                      type == "AccessDeniedException";
  out =
      json::serialize(json::value{{"error",
                                   {{"message", message},
                                    {"type", client_fault ? "invalid_request_error" : "api_error"},
                                    {"param", nullptr},
                                    {"code", type}}}});
}

}  // namespace aigw::providers::bedrock
