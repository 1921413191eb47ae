#include "document_util.hpp"

#include <fmt/format.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace aigw::providers::document {

namespace json = boost::json;

std::string read_tool_call(const json::value& call, std::string_view& id, std::string_view& name,
                           json::value& input) {
  const auto* c = call.if_object();
  const auto* function = c ? c->if_contains("function") : nullptr;
  if (!function || !function->is_object()) return "a tool call needs a function";
  id = text_of(c->if_contains("id"));
  name = text_of(function->as_object().if_contains("name"));
  auto arguments = text_of(function->as_object().if_contains("arguments"));
  input = json::object();
  if (arguments.empty()) return {};
  boost::system::error_code ec;
  input = json::parse(arguments, ec);
  if (ec || !input.is_object()) return "a tool call's arguments must be a JSON object";
  return {};
}

std::string read_max_tokens(const json::object& request, std::uint64_t& out) {
  for (auto key : {"max_completion_tokens", "max_tokens"})
    if (const auto* v = request.if_contains(key); v && v->is_number()) {
      boost::system::error_code ec;
      auto n = v->to_number<std::uint64_t>(ec);
      if (ec || n == 0) return fmt::format("{} must be a positive whole number", key);
      out = n;
      return {};
    }
  return {};
}

std::optional<json::value> stop_sequences(const json::object& request) {
  const auto* stop = request.if_contains("stop");
  if (stop && stop->is_string()) return json::value(json::array{*stop});
  if (stop && stop->is_array()) return *stop;
  return std::nullopt;
}

std::string format_instruction(const json::object& request) {
  const auto* format = request.if_contains("response_format");
  if (!format || !format->is_object()) return {};
  auto type = text_of(format->as_object().if_contains("type"));
  if (type == "json_object") return "Respond with one JSON object and nothing else.";
  if (type != "json_schema") return {};
  const auto* schema = format->as_object().if_contains("json_schema");
  const auto* inner =
      schema && schema->is_object() ? schema->as_object().if_contains("schema") : nullptr;
  return fmt::format(
      "Respond with one JSON object that matches this JSON schema, and nothing else: {}",
      inner ? json::serialize(*inner) : std::string("{}"));
}

}  // namespace aigw::providers::document
