// Anthropic's responses as an OpenAI client gets them (providers::anthropic::chat_stage):
// streams written after the Messages API reference (text, thinking, tool use, usage, an
// error), fed whole and in random splits, and read back as OpenAI chunks.
#include <doctest/doctest.h>

#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <boost/beast/http/message.hpp>
#include <boost/json/parse.hpp>

#include "aigw/providers/anthropic_stage.hpp"

namespace {

using namespace aigw;
namespace http = boost::beast::http;
namespace bj = boost::json;
using providers::anthropic::chat_stage;

http::response_header<> head_of(unsigned status, std::string_view content_type) {
  http::response_header<> head;
  head.result(status);
  head.set(http::field::content_type, content_type);
  return head;
}

// A stream with a thinking block, text (escapes and UTF-8 included), a tool call whose
// arguments arrive in pieces, a ping, an unknown event, and usage at both ends.
const std::string kToolStream =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01\",\"type\":\"message\","
    "\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,"
    "\"usage\":{\"input_tokens\":30,\"cache_read_input_tokens\":10,"
    "\"cache_creation_input_tokens\":2,\"output_tokens\":1}}}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\","
    "\"thinking\":\"\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\","
    "\"thinking\":\"Weather needs a tool.\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\","
    "\"signature\":\"abc\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: ping\ndata: {\"type\": \"ping\"}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\","
    "\"text\":\"\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"Let me \\\"check\\\"\\n\"}}\n\n"
    "event: content_block_delta\r\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"caf\xc3\xa9 \\u2603\"}}\r\n\r\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
    "event: future_event\ndata: {\"type\":\"future_event\",\"x\":[1,2]}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\","
    "\"id\":\"toolu_01\",\"name\":\"get_weather\",\"input\":{}}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\","
    "\"partial_json\":\"\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\","
    "\"partial_json\":\"{\\\"city\\\": \\\"Par\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\","
    "\"partial_json\":\"is\\\"}\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":2}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":3,\"content_block\":{\"type\":\"tool_use\","
    "\"id\":\"toolu_02\",\"name\":\"get_time\",\"input\":{}}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":3,\"delta\":{\"type\":\"input_json_delta\","
    "\"partial_json\":\"{}\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":3}\n\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\","
    "\"stop_sequence\":null},\"usage\":{\"output_tokens\":57}}\n\n"
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

// What a client makes of the chunks: the text, reasoning, tool calls by index, the finish
// reason, the usage chunk and whether [DONE] came last.
struct read_back {
  std::vector<bj::object> chunks;
  std::string content, reasoning;
  std::vector<bj::object> tools;  // id, name, arguments
  std::string finish_reason;
  bj::object usage;
  bool done = false;
  bool error = false;
  std::string error_message;
};

read_back read_chunks(const std::string& sse) {
  read_back r;
  std::size_t at = 0;
  while (at < sse.size()) {
    auto end = sse.find("\n\n", at);
    REQUIRE(end != std::string::npos);  // every event is whole
    auto event = sse.substr(at, end - at);
    at = end + 2;
    REQUIRE(event.starts_with("data: "));
    auto data = event.substr(6);
    CHECK_FALSE(r.done);  // nothing after [DONE]
    if (data == "[DONE]") {
      r.done = true;
      continue;
    }
    auto doc = bj::parse(data).as_object();  // throws on invalid JSON
    if (doc.contains("error")) {
      r.error = true;
      r.error_message = doc["error"].as_object()["message"].as_string().c_str();
      continue;
    }
    CHECK(doc["object"].as_string() == "chat.completion.chunk");
    CHECK(doc["id"].as_string() == "msg_01");
    CHECK(doc["model"].as_string() == "claude-sonnet-4-5");
    CHECK(doc["created"].is_int64());
    if (doc.contains("usage")) {
      CHECK(doc["choices"].as_array().empty());
      r.usage = doc["usage"].as_object();
      continue;
    }
    auto& choice = doc["choices"].as_array().at(0).as_object();
    CHECK(choice["index"].as_int64() == 0);
    if (!choice["finish_reason"].is_null())
      r.finish_reason = choice["finish_reason"].as_string().c_str();
    auto& delta = choice["delta"].as_object();
    if (auto* c = delta.if_contains("content"); c && c->is_string()) r.content += c->as_string();
    if (auto* c = delta.if_contains("reasoning_content")) r.reasoning += c->as_string();
    if (auto* calls = delta.if_contains("tool_calls")) {
      for (auto& call : calls->as_array()) {
        auto& o = call.as_object();
        auto index = static_cast<std::size_t>(o["index"].as_int64());
        if (index == r.tools.size()) {
          CHECK(o.contains("id"));  // a call's first delta names it
          r.tools.push_back(
              {{"id", o["id"]}, {"name", o["function"].as_object()["name"]}, {"arguments", ""}});
        }
        REQUIRE(index < r.tools.size());
        auto& args = r.tools[index]["arguments"].as_string();
        args += o["function"].as_object()["arguments"].as_string();
      }
    }
    r.chunks.push_back(std::move(doc));
  }
  return r;
}

// Feeds `body` to a fresh stage in pieces cut at `cuts`, as the relay does: what output()
// holds after each piece is sent and cleared.
std::string relay(chat_stage& stage, const std::string& body, const std::vector<std::size_t>& cuts,
                  bool include_usage, unsigned status = 200,
                  std::string_view type = "text/event-stream") {
  stage.prepare(include_usage);
  auto head = head_of(status, type);
  stage.on_head(head);
  REQUIRE(stage.output() != nullptr);
  stage.client_head(head);
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

// Chunks carry the second they were made in: compared without it.
std::string without_created(std::string s) {
  for (auto at = s.find("\"created\":"); at != std::string::npos;
       at = s.find("\"created\":", at + 1))
    s.erase(at + 10, s.find(',', at) - at - 10);
  return s;
}

void check_tool_stream(read_back& r) {
  CHECK(r.chunks.front()["choices"].as_array()[0].as_object()["delta"].as_object()["role"] ==
        "assistant");
  CHECK(r.reasoning == "Weather needs a tool.");
  CHECK(r.content == "Let me \"check\"\ncaf\xc3\xa9 \xe2\x98\x83");
  REQUIRE(r.tools.size() == 2);
  CHECK(r.tools[0]["id"] == "toolu_01");
  CHECK(r.tools[0]["name"] == "get_weather");
  CHECK(bj::parse(r.tools[0]["arguments"].as_string()) == bj::parse(R"({"city": "Paris"})"));
  CHECK(r.tools[1]["id"] == "toolu_02");
  CHECK(r.tools[1]["arguments"] == "{}");
  CHECK(r.finish_reason == "tool_calls");
  CHECK(r.done);
}

}  // namespace

TEST_CASE("anthropic stream: text, thinking and tool calls as OpenAI chunks, usage counted") {
  chat_stage stage;
  auto sent = relay(stage, kToolStream, {}, true);
  auto r = read_chunks(sent);
  check_tool_stream(r);
  // Prompt tokens count the cache reads and writes, as OpenAI counts them.
  CHECK(r.usage["prompt_tokens"] == 42);
  CHECK(r.usage["completion_tokens"] == 57);
  CHECK(r.usage["total_tokens"] == 99);
  CHECK(r.usage["prompt_tokens_details"].as_object()["cached_tokens"] == 10);
  REQUIRE(stage.reported_usage() != nullptr);
  CHECK(stage.reported_usage()->input == 42);
  CHECK(stage.reported_usage()->output == 57);
  CHECK(stage.reported_usage()->cached_input == 10);
  CHECK(stage.reported_usage()->cache_creation_input == 2);
  CHECK(stage.reported_usage()->model == "claude-sonnet-4-5");
  CHECK_FALSE(stage.failed());
}

TEST_CASE("anthropic stream: without include_usage no usage chunk, and usage still counted") {
  chat_stage stage;
  auto r = read_chunks(relay(stage, kToolStream, {}, false));
  check_tool_stream(r);
  CHECK(r.usage.empty());
  REQUIRE(stage.reported_usage() != nullptr);
  CHECK(stage.reported_usage()->output == 57);
}

TEST_CASE("anthropic stream: any split of the stream gives the same chunks") {
  chat_stage stage;
  auto whole = relay(stage, kToolStream, {}, true);
  std::mt19937 random(12345);
  for (int round = 0; round < 300; ++round) {
    std::vector<std::size_t> cuts;
    // Byte by byte once; else a few random cuts.
    if (round == 0) {
      for (std::size_t i = 1; i < kToolStream.size(); ++i) cuts.push_back(i);
    } else {
      std::uniform_int_distribution<std::size_t> at(1, kToolStream.size() - 1);
      int n = 1 + round % 12;
      for (int i = 0; i < n; ++i) cuts.push_back(at(random));
      std::sort(cuts.begin(), cuts.end());
      cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    }
    auto sent = relay(stage, kToolStream, cuts, true);
    REQUIRE(without_created(sent) == without_created(whole));
  }
}

TEST_CASE("anthropic stream: an error event becomes OpenAI's, and the stream fails there") {
  chat_stage stage;
  std::string body =
      "event: message_start\n"
      "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01\",\"model\":"
      "\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n"
      "event: content_block_delta\n"
      "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
      "\"text\":\"Hi\"}}\n\n"
      "event: error\n"
      "data: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":"
      "\"Overloaded\"}}\n\n"
      "event: content_block_delta\n"
      "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
      "\"text\":\"late\"}}\n\n";
  auto r = read_chunks(relay(stage, body, {}, true));
  CHECK(r.content == "Hi");  // nothing after the error
  CHECK(r.error);
  CHECK(r.error_message == "Overloaded");
  CHECK_FALSE(r.done);
  CHECK(stage.failed());
  CHECK(stage.wrote_error_event());
}

TEST_CASE("anthropic stream: events that are not JSON objects are skipped, never a crash") {
  chat_stage stage;
  std::string body =
      "data: not json\n\n"
      "data: [1,2]\n\n"
      "data: {\"type\":7}\n\n"
      "data: {\"type\":\"content_block_delta\",\"index\":\"x\"}\n\n"
      "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
      "\"text\":5}}\n\n"
      "data: {\"type\":\"message_stop\"}\n\n";
  auto sent = relay(stage, body, {}, false);
  CHECK(sent == "data: [DONE]\n\n");
}

TEST_CASE("anthropic stream: a string that is not JSON is never spliced into a chunk") {
  // Found by the response_stages fuzz target: On-Demand does not check a string's escapes
  // unless it unescapes it, and the stage splices the token as it came.
  chat_stage stage;
  std::string body =
      kToolStream.substr(0, kToolStream.find("event: content_block_start")) +
      "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
      "\"text\":\"bad \\' escape\"}}\n\n"
      "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
      "\"text\":\"raw \ttab\"}}\n\n"
      "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
      "\"text\":\"cut \\u12\"}}\n\n"
      "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
      "\"text\":\"lone \\udddd\"}}\n\n"
      "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
      "\"text\":\"half \\ud83d!\"}}\n\n"
      "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
      "\"text\":\"pair \\ud83d\\ude00 \"}}\n\n"
      "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
      "\"text\":\"fine \\u00e9\\n\\\"\"}}\n\n"
      "data: {\"type\":\"message_stop\"}\n\n";
  auto sent = relay(stage, body, {}, false);
  auto r = read_chunks(sent);
  CHECK(r.content == "pair \xf0\x9f\x98\x80 fine \u00e9\n\"");
  CHECK(sent.find("lone") == std::string::npos);
  CHECK(sent.find("half") == std::string::npos);
  CHECK(sent.find("escape") == std::string::npos);
  CHECK(sent.find("tab") == std::string::npos);
  CHECK(sent.find("cut") == std::string::npos);
}

TEST_CASE("anthropic message and error bodies: translated whole, status mapped") {
  chat_stage stage;
  std::string message = R"({"id":"msg_9","type":"message","role":"assistant","model":"claude-x",
    "content":[{"type":"text","text":"Hello"}],"stop_reason":"end_turn",
    "usage":{"input_tokens":3,"output_tokens":2}})";
  auto sent = relay(stage, message, {7, 40}, false, 200, "application/json");
  auto doc = bj::parse(sent).as_object();
  CHECK(doc["object"] == "chat.completion");
  CHECK(doc["choices"].as_array()[0].as_object()["message"].as_object()["content"] == "Hello");
  REQUIRE(stage.reported_usage() != nullptr);
  CHECK(stage.reported_usage()->input == 3);

  // 529 overloaded: 503, OpenAI's error shape, JSON.
  stage.prepare(false);
  auto head = head_of(529, "application/json");
  stage.on_head(head);
  stage.client_head(head);
  CHECK(head.result_int() == 503);
  CHECK(head[http::field::content_type] == "application/json");
  stage.on_data(R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})");
  stage.on_end(true);
  auto error = bj::parse(*stage.output()).as_object()["error"].as_object();
  CHECK(error["message"] == "Overloaded");
  CHECK(error["code"] == "overloaded_error");

  // A body that is no message: an error, never the backend's bytes as a "completion".
  auto bad = relay(stage, R"({"type":"something"})", {}, false, 200, "application/json");
  CHECK(bj::parse(bad).as_object().contains("error"));
}

namespace {

using providers::anthropic::messages_stage;

// An OpenAI stream: reasoning, text, two tool calls (arguments in pieces), the finish, the
// usage chunk, [DONE].
const std::string kOpenAiStream =
    "data: {\"id\":\"chatcmpl-7\",\"object\":\"chat.completion.chunk\",\"model\":\"qwen3\","
    "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
    "\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-7\",\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":"
    "\"Think.\"},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-7\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
    "\"Hi \\\"you\\\"\\n\"},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-7\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
    "\"caf\xc3\xa9\"},\"finish_reason\":null}]}\r\n\r\n"
    ": a comment\n\n"
    "data: {\"id\":\"chatcmpl-7\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{"
    "\"index\":0,\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"f\","
    "\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-7\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{"
    "\"index\":0,\"function\":{\"arguments\":\"{\\\"a\\\":\"}}]},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-7\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{"
    "\"index\":0,\"function\":{\"arguments\":\"1}\"}}]},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-7\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{"
    "\"index\":1,\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"g\","
    "\"arguments\":\"{}\"}}]},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-7\",\"choices\":[{\"index\":0,\"delta\":{},"
    "\"finish_reason\":\"tool_calls\"}]}\n\n"
    "data: {\"id\":\"chatcmpl-7\",\"choices\":[],\"usage\":{\"prompt_tokens\":20,"
    "\"completion_tokens\":9,\"prompt_tokens_details\":{\"cached_tokens\":4}}}\n\n"
    "data: [DONE]\n\n";

struct anthropic_event_read {
  std::string name;
  bj::object data;
};

// The events, each checked whole: `event:` line, `data:` line, blank line; data's type is the
// event's name.
std::vector<anthropic_event_read> read_events(const std::string& sse) {
  std::vector<anthropic_event_read> events;
  std::size_t at = 0;
  while (at < sse.size()) {
    auto end = sse.find("\n\n", at);
    REQUIRE(end != std::string::npos);
    auto event = sse.substr(at, end - at);
    at = end + 2;
    REQUIRE(event.starts_with("event: "));
    auto newline = event.find('\n');
    REQUIRE(newline != std::string::npos);
    auto name = event.substr(7, newline - 7);
    auto data = event.substr(newline + 1);
    REQUIRE(data.starts_with("data: "));
    auto object = bj::parse(data.substr(6)).as_object();
    CHECK(object["type"].as_string() == name);
    events.push_back({name, std::move(object)});
  }
  return events;
}

std::string relay_messages(messages_stage& stage, const std::string& body,
                           const std::vector<std::size_t>& cuts) {
  auto head = head_of(200, "text/event-stream");
  stage.on_head(head);
  REQUIRE(stage.output() != nullptr);
  stage.client_head(head);
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

}  // namespace

TEST_CASE("OpenAI stream as Anthropic events: blocks in order, stop reason, usage at the end") {
  messages_stage stage;
  auto events = read_events(relay_messages(stage, kOpenAiStream, {}));
  std::vector<std::string> names;
  for (auto& e : events) names.push_back(e.name);
  INFO(std::accumulate(names.begin(), names.end(), std::string(),
                       [](std::string a, const std::string& b) { return a + " " + b; }));
  CHECK(names ==
        std::vector<std::string>{"message_start", "content_block_start", "content_block_delta",
                                 "content_block_stop", "content_block_start", "content_block_delta",
                                 "content_block_delta", "content_block_stop", "content_block_start",
                                 "content_block_delta", "content_block_delta", "content_block_stop",
                                 "content_block_start", "content_block_delta", "content_block_stop",
                                 "message_delta", "message_stop"});
  auto& start = events[0].data["message"].as_object();
  CHECK(start["id"] == "chatcmpl-7");
  CHECK(start["model"] == "qwen3");
  CHECK(start["role"] == "assistant");
  // The blocks: thinking 0, text 1, tool_use 2 and 3, each index used by its events only.
  CHECK(events[1].data["content_block"].as_object()["type"] == "thinking");
  CHECK(events[2].data["delta"].as_object()["thinking"] == "Think.");
  CHECK(events[4].data["index"] == 1);
  CHECK(events[5].data["delta"].as_object()["text"] == "Hi \"you\"\n");
  CHECK(events[6].data["delta"].as_object()["text"] == "caf\xc3\xa9");
  auto& tool = events[8].data["content_block"].as_object();
  CHECK(tool["type"] == "tool_use");
  CHECK(tool["id"] == "call_a");
  CHECK(tool["name"] == "f");
  CHECK(events[9].data["delta"].as_object()["partial_json"] == "{\"a\":");
  CHECK(events[10].data["delta"].as_object()["partial_json"] == "1}");
  CHECK(events[11].data["index"] == 2);
  CHECK(events[12].data["content_block"].as_object()["id"] == "call_b");
  CHECK(events[12].data["index"] == 3);
  auto& end = events[15].data;
  CHECK(end["delta"].as_object()["stop_reason"] == "tool_use");
  CHECK(end["usage"].as_object()["input_tokens"] == 16);
  CHECK(end["usage"].as_object()["cache_read_input_tokens"] == 4);
  CHECK(end["usage"].as_object()["output_tokens"] == 9);
  REQUIRE(stage.reported_usage() != nullptr);
  CHECK(stage.reported_usage()->input == 20);
  CHECK(stage.reported_usage()->model == "qwen3");
}

TEST_CASE("OpenAI stream as Anthropic events: any split gives the same events") {
  messages_stage stage;
  auto whole = relay_messages(stage, kOpenAiStream, {});
  std::mt19937 random(777);
  for (int round = 0; round < 300; ++round) {
    std::vector<std::size_t> cuts;
    if (round == 0) {
      for (std::size_t i = 1; i < kOpenAiStream.size(); ++i) cuts.push_back(i);
    } else {
      std::uniform_int_distribution<std::size_t> at(1, kOpenAiStream.size() - 1);
      for (int i = 0; i < 1 + round % 12; ++i) cuts.push_back(at(random));
      std::sort(cuts.begin(), cuts.end());
      cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    }
    REQUIRE(relay_messages(stage, kOpenAiStream, cuts) == whole);
  }
}

TEST_CASE("OpenAI stream as Anthropic events: an error chunk ends it with an error event") {
  messages_stage stage;
  std::string body =
      "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n"
      "data: {\"error\":{\"message\":\"crashed\",\"type\":\"server_error\"}}\n\n"
      "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"late\"}}]}\n\n";
  auto events = read_events(relay_messages(stage, body, {}));
  REQUIRE(events.size() == 4);  // message_start, block start, delta, error
  CHECK(events.back().name == "error");
  CHECK(events.back().data["error"].as_object()["message"] == "crashed");
  CHECK(stage.failed());
  // A stream with no [DONE] ends properly at the body's end once its answer finished;
  // garbage is skipped; one that stops before its finish_reason ends with an error event.
  messages_stage other;
  auto ended = read_events(relay_messages(
      other,
      "data: nonsense\n\ndata: {\"id\":\"c\",\"choices\":[{\"delta\":{\"content\":\"x\"},"
      "\"finish_reason\":\"stop\"}],\"error\":null}\n\n",
      {}));
  CHECK(ended.back().name == "message_stop");
  auto cut = read_events(relay_messages(
      other, "data: {\"id\":\"c\",\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n", {}));
  CHECK(cut.back().name == "error");
  CHECK(other.failed());
}

TEST_CASE(
    "OpenAI stream as Anthropic events: a call's repeated id keeps one block; a missing id is made "
    "up") {
  messages_stage stage;
  std::string body =
      "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
      "\"id\":\"call_1\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\"\"}}]}}]}\n\n"
      "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
      "\"id\":\"call_1\",\"function\":{\"arguments\":\":1}\"}}]}}]}\n\n"
      "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,"
      "\"function\":{\"name\":\"g\",\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}]}"
      "\n\n"
      "data: [DONE]\n\n";
  auto events = read_events(relay_messages(stage, body, {}));
  std::vector<std::string> ids;
  std::string arguments;
  for (auto& e : events) {
    if (e.name == "content_block_start")
      ids.emplace_back(e.data["content_block"].as_object()["id"].as_string());
    if (e.name == "content_block_delta" && e.data["index"] == 0)
      arguments += e.data["delta"].as_object()["partial_json"].as_string();
  }
  REQUIRE(ids.size() == 2);
  CHECK(ids[0] == "call_1");
  CHECK(ids[1] == "toolu_1");
  CHECK(arguments == "{\"a\":1}");
}

TEST_CASE("anthropic stream: a body that ends before message_stop is cut, not complete") {
  chat_stage stage;
  auto cut_at = kToolStream.find("event: message_delta");
  auto sent = relay(stage, kToolStream.substr(0, cut_at), {}, false);
  auto r = read_chunks(sent);
  CHECK(r.error);
  CHECK_FALSE(r.done);
  CHECK(stage.failed());
  // Stopped (message_delta) but no message_stop: done all the same.
  auto stop_at = kToolStream.find("event: message_stop");
  auto stopped = read_chunks(relay(stage, kToolStream.substr(0, stop_at), {}, false));
  CHECK(stopped.done);
  CHECK_FALSE(stage.failed());
}
