// OpenAI chat completions <-> Anthropic Messages, on exchanges written after the two API
// references: requests, responses and errors, compared as JSON values.
#include <doctest/doctest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "aigw/providers/anthropic.hpp"

namespace anthropic = aigw::providers::anthropic;
namespace json = boost::json;

namespace {

json::value translated_request(std::string_view openai, anthropic::request_options options = {}) {
  std::string out;
  auto why = anthropic::chat_to_messages(openai, options, out);
  INFO(why);
  REQUIRE(why.empty());
  return json::parse(out);
}

}  // namespace

TEST_CASE("anthropic request: system, turns, images, tools and their results") {
  auto got = translated_request(R"({
    "model": "claude-sonnet-4-5",
    "messages": [
      {"role": "system", "content": "You are terse."},
      {"role": "developer", "content": [{"type": "text", "text": "Use metric units."}]},
      {"role": "user", "content": [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}]},
      {"role": "assistant", "content": "Let me look up the weather.", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Oslo\"}"}},
        {"id": "call_2", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}}]},
      {"role": "tool", "tool_call_id": "call_1", "content": "4 C"},
      {"role": "tool", "tool_call_id": "call_2", "content": "19 C"},
      {"role": "user", "content": "And now?"}
    ],
    "tools": [{"type": "function", "function": {"name": "weather", "description": "Weather in a city",
               "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
    "tool_choice": "required",
    "parallel_tool_calls": false,
    "max_completion_tokens": 300,
    "stop": "END",
    "temperature": 1.5,
    "top_p": 0.9,
    "stream": true,
    "stream_options": {"include_usage": true},
    "user": "user-42"
  })");
  auto expected = json::parse(R"({
    "model": "claude-sonnet-4-5",
    "system": "You are terse.\n\nUse metric units.",
    "messages": [
      {"role": "user", "content": [
        {"type": "text", "text": "What is in these?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}]},
      {"role": "assistant", "content": [
        {"type": "text", "text": "Let me look up the weather."},
        {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Oslo"}},
        {"type": "tool_use", "id": "call_2", "name": "weather", "input": {"city": "Rome"}}]},
      {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "call_1", "content": [{"type": "text", "text": "4 C"}]},
        {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "19 C"}]},
        {"type": "text", "text": "And now?"}]}
    ],
    "max_tokens": 300,
    "stop_sequences": ["END"],
    "temperature": 1.0,
    "top_p": 0.9,
    "stream": true,
    "metadata": {"user_id": "user-42"},
    "tools": [{"name": "weather", "description": "Weather in a city",
               "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
    "tool_choice": {"type": "any", "disable_parallel_tool_use": true}
  })");
  CHECK(json::serialize(got) == json::serialize(expected));
}

TEST_CASE("anthropic request: defaults, reasoning effort, response formats, a named tool") {
  anthropic::request_options options;
  options.default_max_tokens = 1000;
  auto plain =
      translated_request(R"({"model":"m","messages":[{"role":"user","content":"hi"}]})", options);
  CHECK(plain.at("max_tokens") == 1000);
  CHECK(plain.at("messages").at(0).at("content").at(0).at("text") == "hi");
  CHECK_FALSE(plain.as_object().contains("system"));

  auto thinking = translated_request(
      R"({"model":"m","max_tokens":100,"reasoning_effort":"medium","messages":[{"role":"user","content":"hi"}]})");
  CHECK(thinking.at("thinking").at("budget_tokens") == 4096);
  CHECK(thinking.at("max_tokens") == 4096 + 1024);  // room for the answer after the thinking

  auto json_object = translated_request(
      R"({"model":"m","response_format":{"type":"json_object"},"messages":[{"role":"user","content":"hi"}]})");
  CHECK(json_object.at("system") == "Respond with one JSON object and nothing else.");
  auto schema = translated_request(
      R"({"model":"m","response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}},"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}]})");
  CHECK(
      std::string_view(schema.at("system").as_string())
          .starts_with("Be brief.\n\nRespond with one JSON object that matches this JSON schema"));

  auto named = translated_request(
      R"({"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"f"}}})");
  CHECK(named.at("tool_choice") == json::parse(R"({"type":"tool","name":"f"})"));
  CHECK(named.at("tools").at(0).at("input_schema") == json::parse(R"({"type":"object"})"));
}

TEST_CASE("anthropic request: what cannot be translated is a clear client error") {
  std::string out;
  anthropic::request_options options;
  CHECK(anthropic::chat_to_messages(R"({"model":"m","n":2,"messages":[]})", options, out)
            .find("n other than 1") != std::string::npos);
  CHECK(
      anthropic::chat_to_messages(
          R"({"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","arguments":"[1]"}}]}]})",
          options, out)
          .find("arguments") != std::string::npos);
  CHECK(anthropic::chat_to_messages(R"({"model":"m","messages":[{"role":"critic","content":"x"}]})",
                                    options, out)
            .find("critic") != std::string::npos);
  CHECK(
      anthropic::chat_to_messages(
          R"({"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]})",
          options, out)
          .find("input_audio") != std::string::npos);
  CHECK_FALSE(anthropic::chat_to_messages("[1]", options, out).empty());
}

TEST_CASE("anthropic response: a message as a chat completion") {
  std::string out;
  REQUIRE(anthropic::message_to_chat(R"({
    "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
    "content": [
      {"type": "thinking", "thinking": "The user wants weather.", "signature": "sig"},
      {"type": "text", "text": "Checking."},
      {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Oslo"}}],
    "stop_reason": "tool_use", "stop_sequence": null,
    "usage": {"input_tokens": 20, "output_tokens": 12, "cache_read_input_tokens": 100,
              "cache_creation_input_tokens": 5}
  })",
                                     1700000000, out));
  auto expected = json::parse(R"({
    "id": "msg_01", "object": "chat.completion", "created": 1700000000, "model": "claude-sonnet-4-5",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Checking.",
      "reasoning_content": "The user wants weather.",
      "tool_calls": [{"id": "toolu_1", "type": "function",
                      "function": {"name": "weather", "arguments": "{\"city\":\"Oslo\"}"}}]},
      "finish_reason": "tool_calls"}],
    "usage": {"prompt_tokens": 125, "completion_tokens": 12, "total_tokens": 137,
              "prompt_tokens_details": {"cached_tokens": 100}}
  })");
  CHECK(json::parse(out) == expected);

  REQUIRE(anthropic::message_to_chat(
      R"({"id":"m","type":"message","model":"x","content":[{"type":"tool_use","id":"t","name":"f","input":{}}],"stop_reason":"tool_use"})",
      1, out));
  CHECK(json::parse(out).at("choices").at(0).at("message").at("content").is_null());
  CHECK_FALSE(anthropic::message_to_chat(R"({"type":"error"})", 1, out));

  CHECK(anthropic::finish_reason("end_turn") == "stop");
  CHECK(anthropic::finish_reason("stop_sequence") == "stop");
  CHECK(anthropic::finish_reason("max_tokens") == "length");
  CHECK(anthropic::finish_reason("refusal") == "content_filter");
}

TEST_CASE("anthropic errors in OpenAI's shape, with the status a client retries") {
  std::string out;
  CHECK(anthropic::error_to_openai(
            529, R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})",
            out) == 503);
  CHECK(
      json::parse(out) ==
      json::parse(
          R"({"error":{"message":"Overloaded","type":"overloaded_error","param":null,"code":"overloaded_error"}})"));
  CHECK(
      anthropic::error_to_openai(
          400,
          R"({"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: too big"}})",
          out) == 400);
  CHECK(json::parse(out).at("error").at("type") == "invalid_request_error");
  CHECK(anthropic::error_to_openai(502, "<html>bad gateway</html>", out) == 502);
  CHECK(json::parse(out).at("error").at("type") == "api_error");
}

// The reverse direction: an Anthropic client's request for an OpenAI-compatible backend.
TEST_CASE("messages request as chat completions: system, tool turns, images, tools, options") {
  std::string out;
  auto why = anthropic::messages_to_chat(R"({
    "model": "claude-sonnet-4-5", "max_tokens": 512, "stream": true,
    "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
    "messages": [
      {"role": "user", "content": [
        {"type": "text", "text": "What is in this picture, and the weather?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}}]},
      {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "I need the weather.", "signature": "sig"},
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
      {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "18 C"}]},
        {"type": "text", "text": "And tomorrow?"}]}
    ],
    "tools": [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}],
    "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": true},
    "stop_sequences": ["END"], "temperature": 0.3, "top_p": 0.9, "top_k": 5,
    "metadata": {"user_id": "u-1"}, "thinking": {"type": "enabled", "budget_tokens": 4000}
  })",
                                         "qwen3:8b", out);
  INFO(why);
  REQUIRE(why.empty());
  CHECK(json::parse(out) == json::parse(R"({
    "model": "qwen3:8b",
    "messages": [
      {"role": "system", "content": "Be brief."},
      {"role": "user", "content": [
        {"type": "text", "text": "What is in this picture, and the weather?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}}]},
      {"role": "assistant", "content": "Checking.", "tool_calls": [
        {"id": "toolu_1", "type": "function",
         "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
      {"role": "tool", "tool_call_id": "toolu_1", "content": "18 C"},
      {"role": "user", "content": "And tomorrow?"}
    ],
    "max_tokens": 512, "stop": ["END"], "temperature": 0.3, "top_p": 0.9, "user": "u-1",
    "reasoning_effort": "medium", "stream": true, "stream_options": {"include_usage": true},
    "tools": [{"type": "function",
               "function": {"name": "get_weather", "description": "Weather",
                            "parameters": {"type": "object"}}}],
    "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    "parallel_tool_calls": false
  })"));
}

TEST_CASE("messages request: what an OpenAI-compatible backend cannot take is a clear error") {
  std::string out;
  CHECK(anthropic::messages_to_chat("[1]", "m", out) == "the body is not a JSON object");
  CHECK(anthropic::messages_to_chat(R"({"messages": {}})", "m", out) ==
        "messages must be an array");
  CHECK(
      anthropic::messages_to_chat(R"({"messages": [{"role": "system", "content": "x"}]})", "m", out)
          .find("role \"system\"") != std::string::npos);
  CHECK(anthropic::messages_to_chat(
            R"({"messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]})",
            "m", out)
            .find("\"document\"") != std::string::npos);
  CHECK(anthropic::messages_to_chat(
            R"({"messages": [], "tools": [{"type": "web_search_20250305", "name": "web_search"}]})",
            "m", out)
            .find("Anthropic's own") != std::string::npos);
}

TEST_CASE("a chat completion as an Anthropic message; OpenAI errors in Anthropic's shape") {
  std::string out;
  aigw::json::usage_reading usage;
  REQUIRE(anthropic::chat_to_message(R"({
    "id": "chatcmpl-1", "object": "chat.completion", "model": "qwen3:8b",
    "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
      "role": "assistant", "content": "Let me look.", "reasoning_content": "Hmm.",
      "tool_calls": [{"id": "call_1", "type": "function",
                      "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}]}}],
    "usage": {"prompt_tokens": 20, "completion_tokens": 9, "prompt_tokens_details": {"cached_tokens": 4}}
  })",
                                     out, &usage));
  CHECK(json::parse(out) == json::parse(R"({
    "id": "chatcmpl-1", "type": "message", "role": "assistant", "model": "qwen3:8b",
    "content": [
      {"type": "thinking", "thinking": "Hmm.", "signature": ""},
      {"type": "text", "text": "Let me look."},
      {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Oslo"}}],
    "stop_reason": "tool_use", "stop_sequence": null,
    "usage": {"input_tokens": 16, "output_tokens": 9, "cache_read_input_tokens": 4,
              "cache_creation_input_tokens": 0}
  })"));
  CHECK(usage.found);
  CHECK(usage.input == 20);
  CHECK(usage.cached_input == 4);
  CHECK_FALSE(anthropic::chat_to_message(R"({"object": "list"})", out));

  anthropic::error_to_anthropic(429, R"({"error": {"message": "slow down", "type": "x"}})", out);
  CHECK(json::parse(out) ==
        json::parse(
            R"({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}})"));
  anthropic::error_to_anthropic(500, R"({"error": "model crashed"})", out);  // Ollama's shape
  CHECK(json::parse(out) ==
        json::parse(
            R"({"type": "error", "error": {"type": "api_error", "message": "model crashed"}})"));
  anthropic::error_to_anthropic(503, "<html>", out);
  CHECK(json::parse(out).at("error").at("type") == "overloaded_error");
}
