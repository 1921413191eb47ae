// OpenAI chat completions <-> Bedrock's Converse API: requests, responses and errors on
// exchanges written after the API reference; ConverseStream's binary frames translated into
// OpenAI chunks across any split, and bad frames (CRC, truncation, size) ending the stream
// with an error event; the AWS shared credentials file.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include <boost/beast/http/message.hpp>
#include <boost/json/parse.hpp>

#include "aigw/providers/bedrock.hpp"
#include "aigw/providers/bedrock_stage.hpp"
#include "config/aws_credentials.hpp"
#include "event_stream_frames.hpp"

namespace {

using namespace aigw;
namespace http = boost::beast::http;
namespace bj = boost::json;
using test::frame;

std::string event(const std::string& type, const std::string& payload) {
  return frame(
      {{":event-type", type}, {":content-type", "application/json"}, {":message-type", "event"}},
      payload);
}

// A ConverseStream answer: reasoning, text (escapes, UTF-8), a tool call in pieces, the stop,
// the usage; AWS's "p" padding on each payload.
const std::string kStream =
    event("messageStart", R"({"role":"assistant","p":"abc"})") +
    event("contentBlockDelta",
          R"({"contentBlockIndex":0,"delta":{"reasoningContent":{"text":"Hmm."}},"p":"x"})") +
    event("contentBlockDelta",
          R"({"contentBlockIndex":1,"delta":{"text":"Say \"hi\"\n"},"p":"xy"})") +
    event("contentBlockDelta", "{\"contentBlockIndex\":1,\"delta\":{\"text\":\"caf\xc3\xa9\"}}") +
    event("contentBlockStop", R"({"contentBlockIndex":1})") +
    event(
        "contentBlockStart",
        R"({"contentBlockIndex":2,"start":{"toolUse":{"toolUseId":"tooluse_1","name":"get_weather"}}})") +
    event("contentBlockDelta",
          R"({"contentBlockIndex":2,"delta":{"toolUse":{"input":"{\"city\":"}}})") +
    event("contentBlockDelta",
          R"({"contentBlockIndex":2,"delta":{"toolUse":{"input":"\"Oslo\"}"}}})") +
    event("contentBlockStop", R"({"contentBlockIndex":2})") +
    event("messageStop", R"({"stopReason":"tool_use"})") +
    event(
        "metadata",
        R"({"usage":{"inputTokens":10,"outputTokens":4,"totalTokens":14,"cacheReadInputTokens":3},"metrics":{"latencyMs":5}})");

http::response_header<> stream_head() {
  http::response_header<> head;
  head.result(200);
  head.set(http::field::content_type, "application/vnd.amazon.eventstream");
  head.set("x-amzn-requestid", "req-1");
  return head;
}

std::string relay(providers::bedrock::chat_stage& stage, const std::string& body,
                  const std::vector<std::size_t>& cuts, bool include_usage = true) {
  stage.prepare(include_usage, "claude \"sonnet\"");
  auto head = stream_head();
  stage.on_head(head);
  REQUIRE(stage.output() != nullptr);
  stage.client_head(head);
  CHECK(head[http::field::content_type] == "text/event-stream");
  std::string sent;
  std::size_t from = 0;
  for (auto cut : cuts) {
    stage.on_data(std::string_view(body).substr(from, cut - from));
    sent += *stage.output();
    stage.output()->clear();
    from = cut;
  }
  stage.on_data(std::string_view(body).substr(from));
  stage.on_end(true);
  sent += *stage.output();
  stage.output()->clear();
  return sent;
}

// The data of each event, parsed (or "[DONE]" as a string).
std::vector<bj::value> events_of(const std::string& sse) {
  std::vector<bj::value> out;
  for (std::size_t at = 0; at < sse.size();) {
    auto end = sse.find("\n\n", at);
    REQUIRE(end != std::string::npos);
    auto event = sse.substr(at, end - at);
    REQUIRE(event.starts_with("data: "));
    auto data = event.substr(6);
    out.push_back(data == "[DONE]" ? bj::value("[DONE]") : bj::parse(data));
    at = end + 2;
  }
  return out;
}

}  // namespace

TEST_CASE("bedrock request: Converse from chat completions") {
  std::string out;
  auto why = providers::bedrock::chat_to_converse(R"({
    "model": "claude", "max_completion_tokens": 300, "temperature": 0.2, "top_p": 0.9, "stop": ["END"],
    "messages": [
      {"role": "system", "content": "Be brief."},
      {"role": "user", "content": [{"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}}]},
      {"role": "user", "content": "And the weather?"},
      {"role": "assistant", "content": null, "tool_calls": [{"id": "t1", "type": "function",
        "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}]},
      {"role": "tool", "tool_call_id": "t1", "content": "4 C"}
    ],
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
               "parameters": {"type": "object"}}}],
    "tool_choice": {"type": "function", "function": {"name": "get_weather"}}
  })",
                                                  0, out);
  INFO(why);
  REQUIRE(why.empty());
  CHECK(bj::parse(out) == bj::parse(R"({
    "messages": [
      {"role": "user", "content": [{"text": "What is this?"},
        {"image": {"format": "png", "source": {"bytes": "iVBOR"}}}, {"text": "And the weather?"}]},
      {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "get_weather",
        "input": {"city": "Oslo"}}}]},
      {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "4 C"}]}}]}
    ],
    "system": [{"text": "Be brief."}],
    "inferenceConfig": {"maxTokens": 300, "temperature": 0.2, "topP": 0.9, "stopSequences": ["END"]},
    "toolConfig": {"tools": [{"toolSpec": {"name": "get_weather", "description": "Weather",
                                           "inputSchema": {"json": {"type": "object"}}}}],
                   "toolChoice": {"tool": {"name": "get_weather"}}}
  })"));
  // The backend's default max_tokens when the client gives none; none at all when 0.
  REQUIRE(providers::bedrock::chat_to_converse(R"({"messages":[{"role":"user","content":"x"}]})",
                                               99, out)
              .empty());
  CHECK(bj::parse(out).at("inferenceConfig").at("maxTokens") == 99);
  REQUIRE(providers::bedrock::chat_to_converse(R"({"messages":[{"role":"user","content":"x"}]})", 0,
                                               out)
              .empty());
  CHECK_FALSE(bj::parse(out).as_object().contains("inferenceConfig"));
  // What Converse cannot take: clear errors.
  CHECK(providers::bedrock::chat_to_converse(R"({"n":2,"messages":[]})", 0, out)
            .find("n other than 1") != std::string::npos);
  CHECK(
      providers::bedrock::chat_to_converse(
          R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]})",
          0, out)
          .find("base64") != std::string::npos);
  CHECK(
      providers::bedrock::chat_to_converse(
          R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/tiff;base64,AA"}}]}]})",
          0, out)
          .find("image/tiff") != std::string::npos);
}

TEST_CASE("bedrock response and errors as OpenAI's") {
  std::string out;
  json::usage_reading usage;
  REQUIRE(providers::bedrock::converse_to_chat(R"({
    "output": {"message": {"role": "assistant", "content": [
      {"reasoningContent": {"reasoningText": {"text": "Hmm."}}},
      {"text": "It is "}, {"text": "sunny."},
      {"toolUse": {"toolUseId": "t9", "name": "f", "input": {"a": 1}}}]}},
    "stopReason": "max_tokens",
    "usage": {"inputTokens": 7, "outputTokens": 5, "totalTokens": 12, "cacheWriteInputTokens": 2}
  })",
                                               "chatcmpl-x", "m", 5, out, &usage));
  CHECK(bj::parse(out) == bj::parse(R"({
    "id": "chatcmpl-x", "object": "chat.completion", "created": 5, "model": "m",
    "choices": [{"index": 0, "finish_reason": "length", "message": {"role": "assistant",
      "content": "It is sunny.", "reasoning_content": "Hmm.",
      "tool_calls": [{"id": "t9", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]}}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14,
              "prompt_tokens_details": {"cached_tokens": 0}}
  })"));
  CHECK(usage.input == 9);
  CHECK(usage.cache_creation_input == 2);
  CHECK_FALSE(providers::bedrock::converse_to_chat(R"({"message":"x"})", "i", "m", 0, out));

  providers::bedrock::error_to_openai("ThrottlingException:http://internal.amazon.com/coral/",
                                      R"({"message":"Too many requests"})", out);
  CHECK(bj::parse(out) == bj::parse(R"({"error":{"message":"Too many requests","type":"api_error",
                                        "param":null,"code":"ThrottlingException"}})"));
  providers::bedrock::error_to_openai("ValidationException", R"({"Message":"bad"})", out);
  CHECK(bj::parse(out).at("error").at("type") == "invalid_request_error");
}

TEST_CASE("bedrock stream: frames become OpenAI chunks, usage counted") {
  providers::bedrock::chat_stage stage;
  auto events = events_of(relay(stage, kStream, {}));
  REQUIRE(events.size() == 10);
  auto delta = [&](std::size_t i) -> bj::object& {
    return events[i].as_object()["choices"].as_array()[0].as_object()["delta"].as_object();
  };
  auto& first = events[0].as_object();
  CHECK(first["id"] == "chatcmpl-req-1");
  CHECK(first["model"] == "claude \"sonnet\"");
  CHECK(delta(0)["role"] == "assistant");
  CHECK(delta(1)["reasoning_content"] == "Hmm.");
  CHECK(delta(2)["content"] == "Say \"hi\"\n");
  CHECK(delta(3)["content"] == "caf\xc3\xa9");
  auto& call = delta(4)["tool_calls"].as_array()[0].as_object();
  CHECK(call["id"] == "tooluse_1");
  CHECK(call["function"].as_object()["name"] == "get_weather");
  CHECK(delta(5)["tool_calls"].as_array()[0].as_object()["function"].as_object()["arguments"] ==
        "{\"city\":");
  CHECK(delta(6)["tool_calls"].as_array()[0].as_object()["function"].as_object()["arguments"] ==
        "\"Oslo\"}");
  CHECK(events[7].as_object()["choices"].as_array()[0].as_object()["finish_reason"] ==
        "tool_calls");
  auto& usage = events[8].as_object()["usage"].as_object();
  CHECK(usage["prompt_tokens"] == 13);
  CHECK(usage["completion_tokens"] == 4);
  CHECK(usage["prompt_tokens_details"].as_object()["cached_tokens"] == 3);
  CHECK(events[9] == "[DONE]");
  REQUIRE(stage.reported_usage() != nullptr);
  CHECK(stage.reported_usage()->input == 13);
  CHECK_FALSE(stage.failed());
  // Without include_usage: no usage chunk, the same count.
  auto quiet = events_of(relay(stage, kStream, {}, false));
  CHECK(quiet.size() == 9);
  CHECK(stage.reported_usage()->output == 4);
}

TEST_CASE("bedrock stream: any split of the frames gives the same chunks") {
  providers::bedrock::chat_stage stage;
  auto whole = relay(stage, kStream, {});
  // Chunks carry the time they were made; compare without it.
  auto strip = [](std::string s) {
    for (auto at = s.find("\"created\":"); at != std::string::npos;
         at = s.find("\"created\":", at + 1))
      s.erase(at + 10, s.find(',', at) - at - 10);
    return s;
  };
  std::mt19937 random(4242);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::size_t> cuts;
    if (round == 0) {
      for (std::size_t i = 1; i < kStream.size(); ++i) cuts.push_back(i);
    } else {
      std::uniform_int_distribution<std::size_t> at(1, kStream.size() - 1);
      for (int i = 0; i < 1 + round % 15; ++i) cuts.push_back(at(random));
      std::sort(cuts.begin(), cuts.end());
      cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    }
    REQUIRE(strip(relay(stage, kStream, cuts)) == strip(whole));
  }
}

TEST_CASE("bedrock stream: bad frames and exceptions end it with an error event, never a crash") {
  providers::bedrock::chat_stage stage;
  auto last_error = [](const std::string& sse) {
    auto events = events_of(sse);
    REQUIRE_FALSE(events.empty());
    REQUIRE(events.back().is_object());
    REQUIRE(events.back().as_object().contains("error"));
    return events.back().at("error").as_object();
  };
  auto good = event("contentBlockDelta", R"({"contentBlockIndex":0,"delta":{"text":"ok"}})");
  // A flipped bit in the payload: the message CRC.
  auto corrupted = good;
  corrupted[corrupted.size() - 8] ^= 1;
  auto error = last_error(relay(stage, event("messageStart", "{}") + good + corrupted + good, {}));
  CHECK(error["code"] == "invalid_event_stream");
  CHECK(std::string(error["message"].as_string()).find("message CRC") != std::string::npos);
  CHECK(stage.failed());
  // A flipped bit in the prelude.
  auto bad_prelude = good;
  bad_prelude[2] ^= 4;
  error = last_error(relay(stage, good + bad_prelude, {}));
  CHECK(std::string(error["message"].as_string()).find("prelude CRC") != std::string::npos);
  // Oversized: a frame claiming more than the 1 MiB bound, CRC and all.
  std::string huge;
  test::put32(huge, 2u << 20);
  test::put32(huge, 0);
  test::put32(huge, proxy::crc32(huge));
  error = last_error(relay(stage, good + huge, {}));
  CHECK(std::string(error["message"].as_string()).find("length") != std::string::npos);
  // Truncated: the body ends inside a frame.
  error = last_error(relay(stage, good + good.substr(0, good.size() / 2), {}));
  CHECK(error["code"] == "truncated");
  // Whole frames, but no messageStop: cut short.
  error = last_error(relay(stage, event("messageStart", "{}") + good, {}));
  CHECK(error["code"] == "incomplete_stream");
  // An exception message from Bedrock.
  auto exception = frame({{":exception-type", "modelStreamErrorException"},
                          {":content-type", "application/json"},
                          {":message-type", "exception"}},
                         R"({"message":"The model failed"})");
  error = last_error(relay(stage, good + exception + good, {}));
  CHECK(error["message"] == "The model failed");
  CHECK(error["code"] == "modelStreamErrorException");
}

TEST_CASE("the AWS shared credentials file: profiles, comments, spacing") {
  auto text = R"(# a comment
[default]
aws_access_key_id=AKIDDEFAULT
aws_secret_access_key = secret/default+key

; another
[ work ]
aws_access_key_id = AKIDWORK
aws_secret_access_key = work-secret
aws_session_token = token==

[profile partial]
aws_access_key_id = AKIDPARTIAL
)";
  auto d = config::credentials_from_file(text, "default");
  REQUIRE(d);
  CHECK(d->access_key_id == "AKIDDEFAULT");
  CHECK(d->secret_access_key == "secret/default+key");
  CHECK(d->session_token.empty());
  auto w = config::credentials_from_file(text, "work");
  REQUIRE(w);
  CHECK(w->session_token == "token==");
  CHECK_FALSE(config::credentials_from_file(text, "partial"));  // no secret
  CHECK_FALSE(config::credentials_from_file(text, "missing"));
}
