#include "aigw/providers/anthropic.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "document_util.hpp"

#include "aigw/core/errc.hpp"

namespace aigw::providers::anthropic {
namespace {

namespace json = boost::json;
using document::add_turn;
using document::count_of;
using document::text_of;

// An OpenAI content value (a string, or an array of parts) as Anthropic content blocks.
std::string content_blocks(const json::value& content, json::array& out) {
  if (content.is_string()) {
    if (!content.as_string().empty()) out.push_back({{"type", "text"}, {"text", content}});
    return {};
  }
  if (content.is_null()) return {};
  if (!content.is_array()) return "message content must be a string or an array of parts";
  for (const auto& part : content.as_array()) {
    const auto* object = part.if_object();
    if (!object) return "a content part must be an object";
    auto type = text_of(object->if_contains("type"));
    if (type == "text") {
      out.push_back({{"type", "text"}, {"text", text_of(object->if_contains("text"))}});
    } else if (type == "image_url") {
      const auto* image = object->if_contains("image_url");
      auto url = image && image->is_object() ? text_of(image->as_object().if_contains("url"))
                                             : text_of(image);
      // data:<media type>;base64,<data>
      if (url.starts_with("data:")) {
        auto semicolon = url.find(";base64,");
        if (semicolon == std::string_view::npos) return "an image data URL must be base64";
        out.push_back({{"type", "image"},
                       {"source",
                        {{"type", "base64"},
                         {"media_type", url.substr(5, semicolon - 5)},
                         {"data", url.substr(semicolon + 8)}}}});
      } else if (!url.empty()) {
        out.push_back({{"type", "image"}, {"source", {{"type", "url"}, {"url", url}}}});
      } else {
        return "an image_url part needs a url";
      }
    } else {
      return fmt::format("content parts of type \"{}\" cannot be sent to an Anthropic backend",
                         type);
    }
  }
  return {};
}

std::uint32_t thinking_budget(std::string_view effort) {
  if (effort == "minimal" || effort == "low") return 1024;
  if (effort == "medium") return 4096;
  if (effort == "high") return 16384;
  return 0;
}

}  // namespace

std::string_view finish_reason(std::string_view stop_reason) noexcept {
  if (stop_reason == "max_tokens") return "length";
  if (stop_reason == "tool_use") return "tool_calls";
  if (stop_reason == "refusal") return "content_filter";
  return "stop";  // end_turn, stop_sequence, pause_turn
}

std::string_view stop_reason(std::string_view finish_reason) noexcept {
  if (finish_reason == "length") return "max_tokens";
  if (finish_reason == "tool_calls" || finish_reason == "function_call") return "tool_use";
  if (finish_reason == "content_filter") return "refusal";
  return "end_turn";  // stop, and anything a backend made up
}

std::string chat_to_messages(std::string_view openai_body, const request_options& options,
                             std::string& out) {
  document::request_document doc(openai_body);
  if (!doc.problem().empty()) return doc.problem();
  const auto& in = doc.object();
  json::object result;
  if (const auto* model = in.if_contains("model")) result["model"] = *model;

  if (const auto* n = in.if_contains("n"); n && n->is_int64() && n->as_int64() != 1)
    return "n other than 1 cannot be sent to an Anthropic backend";

  std::string system;
  json::array messages;
  const auto* list = in.if_contains("messages");
  if (!list || !list->is_array()) return "messages must be an array";
  for (const auto& item : list->as_array()) {
    const auto* message = item.if_object();
    if (!message) return "a message must be an object";
    auto role = text_of(message->if_contains("role"));
    const auto* content = message->if_contains("content");
    json::array blocks;
    if (role == "system" || role == "developer") {
      json::array parts;
      if (content) {
        if (auto why = content_blocks(*content, parts); !why.empty()) return why;
      }
      for (const auto& p : parts) {
        if (!system.empty()) system += "\n\n";
        system += text_of(p.as_object().if_contains("text"));
      }
      continue;
    }
    if (role == "user") {
      if (content) {
        if (auto why = content_blocks(*content, blocks); !why.empty()) return why;
      }
      add_turn(messages, "user", std::move(blocks));
    } else if (role == "assistant") {
      if (content) {
        if (auto why = content_blocks(*content, blocks); !why.empty()) return why;
      }
      if (const auto* calls = message->if_contains("tool_calls"); calls && calls->is_array()) {
        for (const auto& call : calls->as_array()) {
          std::string_view id, name;
          json::value input;
          if (auto why = document::read_tool_call(call, id, name, input); !why.empty()) return why;
          blocks.push_back(
              {{"type", "tool_use"}, {"id", id}, {"name", name}, {"input", std::move(input)}});
        }
      }
      add_turn(messages, "assistant", std::move(blocks));
    } else if (role == "tool") {
      json::array result_content;
      if (content) {
        if (auto why = content_blocks(*content, result_content); !why.empty()) return why;
      }
      json::object block{{"type", "tool_result"},
                         {"tool_use_id", text_of(message->if_contains("tool_call_id"))}};
      block["content"] = std::move(result_content);
      blocks.push_back(std::move(block));
      add_turn(messages, "user", std::move(blocks));
    } else {
      return fmt::format("messages of role \"{}\" cannot be sent to an Anthropic backend", role);
    }
  }

  // response_format has no field of its own there: it becomes an instruction.
  if (auto instruction = document::format_instruction(in); !instruction.empty())
    system += (system.empty() ? "" : "\n\n") + instruction;
  if (!system.empty()) result["system"] = system;
  result["messages"] = std::move(messages);

  std::uint64_t max_tokens = options.default_max_tokens;
  if (auto why = document::read_max_tokens(in, max_tokens); !why.empty()) return why;
  if (const auto* effort = in.if_contains("reasoning_effort")) {
    if (auto budget = thinking_budget(text_of(effort))) {
      result["thinking"] = {{"type", "enabled"}, {"budget_tokens", budget}};
      max_tokens = std::max<std::uint64_t>(max_tokens, budget + 1024);  // room to answer too
    }
  }
  result["max_tokens"] = max_tokens;

  if (auto stop = document::stop_sequences(in)) result["stop_sequences"] = std::move(*stop);
  if (const auto* t = in.if_contains("temperature"); t && t->is_number())
    result["temperature"] = std::min(t->to_number<double>(), 1.0);  // Anthropic's range is 0-1
  if (const auto* p = in.if_contains("top_p"); p && p->is_number()) result["top_p"] = *p;
  if (const auto* s = in.if_contains("stream"); s && s->is_bool()) result["stream"] = *s;
  if (const auto* user = in.if_contains("user"); user && user->is_string())
    result["metadata"] = {{"user_id", *user}};

  if (const auto* tools = in.if_contains("tools");
      tools && tools->is_array() && !tools->as_array().empty()) {
    json::array translated;
    for (const auto& tool : tools->as_array()) {
      const auto* t = tool.if_object();
      const auto* function = t ? t->if_contains("function") : nullptr;
      if (!function || !function->is_object()) return "a tool needs a function";
      const auto& f = function->as_object();
      json::object out_tool{{"name", text_of(f.if_contains("name"))}};
      if (auto d = text_of(f.if_contains("description")); !d.empty()) out_tool["description"] = d;
      const auto* parameters = f.if_contains("parameters");
      out_tool["input_schema"] = parameters && parameters->is_object()
                                     ? *parameters
                                     : json::value(json::object{{"type", "object"}});
      translated.push_back(std::move(out_tool));
    }
    result["tools"] = std::move(translated);
  }
  json::object choice;
  if (const auto* c = in.if_contains("tool_choice")) {
    if (c->is_string()) {
      auto mode = std::string_view(c->as_string());
      choice["type"] = mode == "required" ? "any" : mode == "none" ? "none" : "auto";
    } else if (c->is_object()) {
      const auto* function = c->as_object().if_contains("function");
      choice["type"] = "tool";
      choice["name"] = function && function->is_object()
                           ? text_of(function->as_object().if_contains("name"))
                           : std::string_view();
    }
  }
  if (const auto* parallel = in.if_contains("parallel_tool_calls");
      parallel && parallel->is_bool() && !parallel->as_bool() && result.contains("tools")) {
    if (!choice.contains("type")) choice["type"] = "auto";
    choice["disable_parallel_tool_use"] = true;
  }
  if (!choice.empty()) result["tool_choice"] = std::move(choice);

  document::serialize_request(result, openai_body.size(), out);
  return {};
}

bool message_to_chat(std::string_view anthropic_body, std::int64_t created, std::string& out,
                     aigw::json::usage_reading* usage_out) {
  boost::system::error_code ec;
  auto doc = json::parse(anthropic_body, ec);
  if (ec || !doc.is_object()) return false;
  const auto& in = doc.as_object();
  if (text_of(in.if_contains("type")) != "message") return false;
  std::string text, thinking;
  json::array tool_calls;
  if (const auto* content = in.if_contains("content"); content && content->is_array()) {
    for (const auto& block : content->as_array()) {
      const auto* b = block.if_object();
      if (!b) continue;
      auto type = text_of(b->if_contains("type"));
      if (type == "text") {
        text += text_of(b->if_contains("text"));
      } else if (type == "thinking") {
        thinking += text_of(b->if_contains("thinking"));
      } else if (type == "tool_use") {
        const auto* input = b->if_contains("input");
        tool_calls.push_back(
            {{"id", text_of(b->if_contains("id"))},
             {"type", "function"},
             {"function",
              {{"name", text_of(b->if_contains("name"))},
               {"arguments", input ? json::serialize(*input) : std::string("{}")}}}});
      }
    }
  }
  json::object message{{"role", "assistant"}};
  message["content"] =
      text.empty() && !tool_calls.empty() ? json::value(nullptr) : json::value(text);
  if (!thinking.empty()) message["reasoning_content"] = thinking;
  if (!tool_calls.empty()) message["tool_calls"] = std::move(tool_calls);

  json::object result{{"id", text_of(in.if_contains("id"))},
                      {"object", "chat.completion"},
                      {"created", created},
                      {"model", text_of(in.if_contains("model"))}};
  result["choices"] =
      json::array{{{"index", 0},
                   {"message", std::move(message)},
                   {"finish_reason", finish_reason(text_of(in.if_contains("stop_reason")))}}};
  if (const auto* usage = in.if_contains("usage"); usage && usage->is_object()) {
    const auto& u = usage->as_object();
    auto count = [&](std::string_view key) { return count_of(u.if_contains(key)); };
    auto cache_read = count("cache_read_input_tokens");
    auto prompt = count("input_tokens") + cache_read + count("cache_creation_input_tokens");
    auto completion = count("output_tokens");
    if (usage_out) {
      usage_out->found = true;
      usage_out->input = prompt;
      usage_out->output = completion;
      usage_out->cached_input = cache_read;
      usage_out->cache_creation_input = count("cache_creation_input_tokens");
      usage_out->model = text_of(in.if_contains("model"));
    }
    result["usage"] = {{"prompt_tokens", prompt},
                       {"completion_tokens", completion},
                       {"total_tokens", prompt + completion},
                       {"prompt_tokens_details", {{"cached_tokens", cache_read}}}};
  }
  out = json::serialize(result);
  return true;
}

unsigned error_to_openai(unsigned status, std::string_view anthropic_body, std::string& out) {
  boost::system::error_code ec;
  auto doc = json::parse(anthropic_body, ec);
  std::string_view type = "api_error", message = "the Anthropic backend returned an error";
  if (!ec && doc.is_object()) {
    if (const auto* error = doc.as_object().if_contains("error"); error && error->is_object()) {
      if (auto t = text_of(error->as_object().if_contains("type")); !t.empty()) type = t;
      if (auto m = text_of(error->as_object().if_contains("message")); !m.empty()) message = m;
    }
  }
  // OpenAI's "type": invalid_request_error for what the client can fix.
  bool client_fault =
      type == "invalid_request_error" || type == "not_found_error" || type == "request_too_large";
  json::object body{{"error",
                     {{"message", message},
                      {"type", client_fault ? "invalid_request_error" : type},
                      {"param", nullptr},
                      {"code", type}}}};
  out = json::serialize(body);
  return openai_status(status);
}

namespace {

// Anthropic content (a string, or blocks) as OpenAI content parts, and its tool results as
// tool messages; thinking blocks are left out.
std::string user_content(const json::value& content, json::array& parts,
                         json::array& tool_messages) {
  if (content.is_string()) {
    parts.push_back({{"type", "text"}, {"text", content}});
    return {};
  }
  if (!content.is_array()) return "message content must be a string or an array of blocks";
  for (const auto& item : content.as_array()) {
    const auto* block = item.if_object();
    if (!block) return "a content block must be an object";
    auto type = text_of(block->if_contains("type"));
    if (type == "text") {
      parts.push_back({{"type", "text"}, {"text", text_of(block->if_contains("text"))}});
    } else if (type == "image") {
      const auto* source = block->if_contains("source");
      const auto* src = source ? source->if_object() : nullptr;
      if (!src) return "an image block needs a source";
      auto kind = text_of(src->if_contains("type"));
      std::string url;
      if (kind == "base64")
        url = fmt::format("data:{};base64,{}", text_of(src->if_contains("media_type")),
                          text_of(src->if_contains("data")));
      else if (kind == "url")
        url = text_of(src->if_contains("url"));
      else
        return fmt::format(
            "image sources of type \"{}\" cannot be sent to an OpenAI-compatible "
            "backend",
            kind);
      parts.push_back({{"type", "image_url"}, {"image_url", {{"url", url}}}});
    } else if (type == "tool_result") {
      std::string text;
      if (const auto* c = block->if_contains("content")) {
        if (c->is_string()) {
          text = c->as_string();
        } else if (c->is_array()) {
          for (const auto& part : c->as_array())
            if (const auto* p = part.if_object(); p && text_of(p->if_contains("type")) == "text") {
              if (!text.empty()) text += "\n";
              text += text_of(p->if_contains("text"));
            }
        }
      }
      if (const auto* e = block->if_contains("is_error"); e && e->is_bool() && e->as_bool())
        text = "Error: " + text;
      tool_messages.push_back({{"role", "tool"},
                               {"tool_call_id", text_of(block->if_contains("tool_use_id"))},
                               {"content", text}});
    } else if (type == "thinking" || type == "redacted_thinking") {
      continue;
    } else {
      return fmt::format(
          "content blocks of type \"{}\" cannot be sent to an OpenAI-compatible "
          "backend",
          type);
    }
  }
  return {};
}

// Joins text-only parts into one string (what every OpenAI-compatible server takes).
json::value as_content(json::array parts) {
  std::string text;
  for (const auto& p : parts) {
    if (text_of(p.as_object().if_contains("type")) != "text") return parts;
    text += text_of(p.as_object().if_contains("text"));
  }
  return json::value(text);
}

std::string_view effort_for(std::uint64_t budget) {
  return budget <= 2048 ? "low" : budget <= 8192 ? "medium" : "high";
}

}  // namespace

std::string messages_to_chat(std::string_view anthropic_body, std::string_view model,
                             std::string& out) {
  document::request_document doc(anthropic_body);
  if (!doc.problem().empty()) return doc.problem();
  const auto& in = doc.object();
  json::object result{{"model", model}};
  json::array messages;
  if (const auto* system = in.if_contains("system")) {
    json::array parts, ignored;
    if (auto why = user_content(*system, parts, ignored); !why.empty()) return "system: " + why;
    if (!parts.empty()) messages.push_back({{"role", "system"}, {"content", as_content(parts)}});
  }
  const auto* list = in.if_contains("messages");
  if (!list || !list->is_array()) return "messages must be an array";
  for (const auto& item : list->as_array()) {
    const auto* message = item.if_object();
    if (!message) return "a message must be an object";
    auto role = text_of(message->if_contains("role"));
    const auto* content = message->if_contains("content");
    if (!content) return "a message needs content";
    if (role == "user") {
      json::array parts, tool_messages;
      if (auto why = user_content(*content, parts, tool_messages); !why.empty()) return why;
      for (auto& t : tool_messages) messages.push_back(std::move(t));  // answers first
      if (!parts.empty()) messages.push_back({{"role", "user"}, {"content", as_content(parts)}});
    } else if (role == "assistant") {
      std::string text;
      json::array calls;
      if (content->is_string()) {
        text = content->as_string();
      } else if (content->is_array()) {
        for (const auto& b : content->as_array()) {
          const auto* block = b.if_object();
          if (!block) return "a content block must be an object";
          auto type = text_of(block->if_contains("type"));
          if (type == "text") {
            text += text_of(block->if_contains("text"));
          } else if (type == "tool_use") {
            const auto* input = block->if_contains("input");
            calls.push_back({{"id", text_of(block->if_contains("id"))},
                             {"type", "function"},
                             {"function",
                              {{"name", text_of(block->if_contains("name"))},
                               {"arguments", input ? json::serialize(*input) : "{}"}}}});
          } else if (type != "thinking" && type != "redacted_thinking") {
            return fmt::format(
                "assistant blocks of type \"{}\" cannot be sent to an "
                "OpenAI-compatible backend",
                type);
          }
        }
      } else {
        return "message content must be a string or an array of blocks";
      }
      json::object turn{{"role", "assistant"}};
      turn["content"] = text.empty() && !calls.empty() ? json::value(nullptr) : json::value(text);
      if (!calls.empty()) turn["tool_calls"] = std::move(calls);
      messages.push_back(std::move(turn));
    } else {
      return fmt::format("messages of role \"{}\" are not in the Messages API", role);
    }
  }
  result["messages"] = std::move(messages);
  if (const auto* v = in.if_contains("max_tokens"); v && v->is_number()) result["max_tokens"] = *v;
  if (const auto* v = in.if_contains("stop_sequences"); v && v->is_array()) result["stop"] = *v;
  for (auto key : {"temperature", "top_p"})
    if (const auto* v = in.if_contains(key); v && v->is_number()) result[key] = *v;
  if (const auto* v = in.if_contains("metadata"); v && v->is_object())
    if (auto user = text_of(v->as_object().if_contains("user_id")); !user.empty())
      result["user"] = user;
  if (const auto* t = in.if_contains("thinking"); t && t->is_object())
    if (text_of(t->as_object().if_contains("type")) == "enabled") {
      const auto* budget = t->as_object().if_contains("budget_tokens");
      boost::system::error_code nec;
      auto n = budget && budget->is_number() ? budget->to_number<std::uint64_t>(nec) : 0;
      result["reasoning_effort"] = effort_for(nec ? 0 : n);
    }
  if (const auto* s = in.if_contains("stream"); s && s->is_bool() && s->as_bool()) {
    result["stream"] = true;
    result["stream_options"] = {{"include_usage", true}};  // message_delta's usage
  }
  if (const auto* tools = in.if_contains("tools"); tools && tools->is_array()) {
    json::array translated;
    for (const auto& tool : tools->as_array()) {
      const auto* t = tool.if_object();
      if (!t) return "a tool must be an object";
      auto type = text_of(t->if_contains("type"));
      if (!type.empty() && type != "custom")
        return fmt::format(
            "tools of type \"{}\" (Anthropic's own) cannot be sent to an "
            "OpenAI-compatible backend",
            type);
      json::object function{{"name", text_of(t->if_contains("name"))}};
      if (auto d = text_of(t->if_contains("description")); !d.empty()) function["description"] = d;
      const auto* schema = t->if_contains("input_schema");
      function["parameters"] =
          schema && schema->is_object() ? *schema : json::value(json::object{{"type", "object"}});
      translated.push_back({{"type", "function"}, {"function", std::move(function)}});
    }
    if (!translated.empty()) result["tools"] = std::move(translated);
  }
  if (const auto* c = in.if_contains("tool_choice"); c && c->is_object()) {
    const auto& choice = c->as_object();
    auto type = text_of(choice.if_contains("type"));
    if (type == "auto")
      result["tool_choice"] = "auto";
    else if (type == "any")
      result["tool_choice"] = "required";
    else if (type == "none")
      result["tool_choice"] = "none";
    else if (type == "tool")
      result["tool_choice"] = {{"type", "function"},
                               {"function", {{"name", text_of(choice.if_contains("name"))}}}};
    if (const auto* d = choice.if_contains("disable_parallel_tool_use");
        d && d->is_bool() && d->as_bool() && result.contains("tools"))
      result["parallel_tool_calls"] = false;
  }
  document::serialize_request(result, anthropic_body.size(), out);
  return {};
}

bool chat_to_message(std::string_view openai_body, std::string& out,
                     aigw::json::usage_reading* usage_out) {
  boost::system::error_code ec;
  auto doc = json::parse(openai_body, ec);
  if (ec || !doc.is_object()) return false;
  const auto& in = doc.as_object();
  const auto* choices = in.if_contains("choices");
  if (!choices || !choices->is_array() || choices->as_array().empty()) return false;
  const auto* choice = choices->as_array()[0].if_object();
  const auto* message = choice ? choice->if_contains("message") : nullptr;
  if (!message || !message->is_object()) return false;
  const auto& m = message->as_object();
  json::array content;
  if (auto reasoning = text_of(m.if_contains("reasoning_content")); !reasoning.empty())
    content.push_back({{"type", "thinking"}, {"thinking", reasoning}, {"signature", ""}});
  if (auto text = text_of(m.if_contains("content")); !text.empty())
    content.push_back({{"type", "text"}, {"text", text}});
  if (const auto* calls = m.if_contains("tool_calls"); calls && calls->is_array()) {
    for (const auto& call : calls->as_array()) {
      const auto* c = call.if_object();
      const auto* function = c ? c->if_contains("function") : nullptr;
      if (!function || !function->is_object()) continue;
      auto arguments = text_of(function->as_object().if_contains("arguments"));
      boost::system::error_code aec;
      auto input = json::parse(arguments.empty() ? std::string_view("{}") : arguments, aec);
      if (aec || !input.is_object()) input = json::object();  // a model's broken JSON
      content.push_back({{"type", "tool_use"},
                         {"id", text_of(c->if_contains("id"))},
                         {"name", text_of(function->as_object().if_contains("name"))},
                         {"input", std::move(input)}});
    }
  }
  json::object result{{"id", text_of(in.if_contains("id"))},
                      {"type", "message"},
                      {"role", "assistant"},
                      {"model", text_of(in.if_contains("model"))},
                      {"content", std::move(content)},
                      {"stop_reason", stop_reason(text_of(choice->if_contains("finish_reason")))},
                      {"stop_sequence", nullptr}};
  std::uint64_t prompt = 0, completion = 0, cached = 0;
  if (const auto* usage = in.if_contains("usage"); usage && usage->is_object()) {
    const auto& u = usage->as_object();
    prompt = count_of(u.if_contains("prompt_tokens"));
    completion = count_of(u.if_contains("completion_tokens"));
    if (const auto* d = u.if_contains("prompt_tokens_details"); d && d->is_object())
      cached = std::min(prompt, count_of(d->as_object().if_contains("cached_tokens")));
    if (usage_out) {
      usage_out->found = true;
      usage_out->input = prompt;
      usage_out->output = completion;
      usage_out->cached_input = cached;
      usage_out->model = text_of(in.if_contains("model"));
    }
  }
  // Anthropic's input_tokens leave the cache reads out.
  result["usage"] = {{"input_tokens", prompt - cached},
                     {"output_tokens", completion},
                     {"cache_read_input_tokens", cached},
                     {"cache_creation_input_tokens", 0}};
  out = json::serialize(result);
  return true;
}

void error_to_anthropic(unsigned status, std::string_view openai_body, std::string& out) {
  boost::system::error_code ec;
  auto doc = json::parse(openai_body, ec);
  std::string_view message = "the backend returned an error";
  if (!ec && doc.is_object()) {
    const auto* error = doc.as_object().if_contains("error");
    if (error && error->is_object()) {
      if (auto m = text_of(error->as_object().if_contains("message")); !m.empty()) message = m;
    } else if (error && error->is_string() && !error->as_string().empty()) {
      message = error->as_string();  // Ollama's {"error":"..."}
    }
  }
  out = json::serialize(
      json::value{{"type", "error"},
                  {"error", {{"type", anthropic_error_type(status)}, {"message", message}}}});
}

}  // namespace aigw::providers::anthropic
