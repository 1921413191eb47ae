// Usage accounting: token counts read exactly from recorded response shapes, whatever the
// reads look like (byte by byte, random splits), through the SSE scanner and the usage stage.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include <boost/beast/http/message.hpp>

#include "aigw/json/model_extractor.hpp"
#include "aigw/proxy/sse_scanner.hpp"
#include "aigw/proxy/usage_stage.hpp"

namespace {

namespace http = boost::beast::http;
using aigw::proxy::usage_stage;

// OpenAI chat, streamed with stream_options.include_usage: "usage":null on every chunk, then a
// usage-only chunk.
const std::string kChatWithUsage =
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-2024-08-06\","
    "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}],\"usage\":"
    "null}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-2024-08-06\","
    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"stop\"}],"
    "\"usage\":null}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-2024-08-06\","
    "\"choices\":[],\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":10,\"total_tokens\":29,"
    "\"prompt_tokens_details\":{\"cached_tokens\":6,\"audio_tokens\":0},"
    "\"completion_tokens_details\":{\"reasoning_tokens\":4,\"audio_tokens\":0}}}\n\n"
    "data: [DONE]\n\n";

// The same stream without the option: no usage anywhere.
const std::string kChatWithoutUsage =
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"stop\"}]}\n\n"
    "data: [DONE]\n\n";

// The Responses API: named events, CRLF line ends, a comment, the usage in response.completed.
const std::string kResponses =
    ": keep-alive\r\n\r\n"
    "event: response.created\r\n"
    "data: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\",\"usage\":null}}\r\n\r\n"
    "event: response.output_text.delta\r\n"
    "data: {\"type\":\"response.output_text.delta\",\"delta\":\"the word usage here\"}\r\n\r\n"
    "event: response.completed\r\n"
    "data: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"model\":\"o4-mini\","
    "\"usage\":{\"input_tokens\":37,\"input_tokens_details\":{\"cached_tokens\":0},"
    "\"output_tokens\":11,\"output_tokens_details\":{\"reasoning_tokens\":8},\"total_tokens\":48}}}"
    "\r\n\r\n";

// Ollama's OpenAI endpoint: no space after "data:", CR line ends, usage on the last content chunk.
const std::string kOllama =
    "data:{\"id\":\"chatcmpl-7\",\"object\":\"chat.completion.chunk\",\"model\":\"llama3.2\","
    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hey\"}}]}\r\r"
    "data:{\"id\":\"chatcmpl-7\",\"object\":\"chat.completion.chunk\",\"model\":\"llama3.2\","
    "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":26,\"completion_tokens\":2,\"total_tokens\":28}}\r\r"
    "data:[DONE]\r\r";

// Legacy completions, with the usage split over two data lines of one event.
const std::string kCompletionsMultiline =
    "data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"choices\":[{\"text\":\"x\"}],\n"
    "data: \"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4}}\n\n";

// Anthropic's Messages stream: the input (and cache) counts at message_start, nested in its
// message; the output so far at each message_delta.
const std::string kAnthropic =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude-x\","
    "\"usage\":{\"input_tokens\":30,\"cache_read_input_tokens\":10,"
    "\"cache_creation_input_tokens\":2,\"output_tokens\":1}}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"hi\"}}\n\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},"
    "\"usage\":{\"output_tokens\":15}}\n\n"
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

struct counted {
  bool found;
  std::uint64_t input, output, cached, reasoning;
  std::string model;
};

counted run(const std::string& content_type, const std::vector<std::string_view>& pieces,
            bool complete = true) {
  usage_stage stage;
  http::response_header<> head;
  head.result(200);
  head.set(http::field::content_type, content_type);
  stage.on_head(head);
  for (auto piece : pieces) stage.on_data(piece);
  stage.on_end(complete);
  const auto& u = stage.usage();
  return {u.found, u.input, u.output, u.cached_input, u.reasoning, u.model};
}

// `text` cut into pieces of `size` (1: byte by byte).
std::vector<std::string_view> cut(const std::string& text, std::size_t size) {
  std::vector<std::string_view> pieces;
  for (std::size_t at = 0; at < text.size(); at += size)
    pieces.push_back(std::string_view(text).substr(at, size));
  return pieces;
}

// `text` cut at random places.
std::vector<std::string_view> random_cut(const std::string& text, std::mt19937& rng) {
  std::vector<std::string_view> pieces;
  for (std::size_t at = 0; at < text.size();) {
    auto n = std::uniform_int_distribution<std::size_t>(1, 40)(rng);
    pieces.push_back(std::string_view(text).substr(at, n));
    at += n;
  }
  return pieces;
}

}  // namespace

TEST_CASE("usage is read exactly from each stream shape, whatever the reads") {
  std::mt19937 rng(1975);
  struct shape {
    const char* name;
    const std::string& text;
    counted expected;
  };
  const shape shapes[] = {
      {"chat with include_usage", kChatWithUsage, {true, 19, 10, 6, 4, "gpt-4o-2024-08-06"}},
      {"Responses API", kResponses, {true, 37, 11, 0, 8, "o4-mini"}},
      {"Ollama", kOllama, {true, 26, 2, 0, 0, "llama3.2"}},
      {"completions, multi-line data", kCompletionsMultiline, {true, 3, 1, 0, 0, ""}},
      // Input as OpenAI counts it: the cache reads and writes included.
      {"Anthropic Messages", kAnthropic, {true, 42, 15, 10, 0, "claude-x"}},
  };
  for (const auto& s : shapes) {
    CAPTURE(s.name);
    std::vector<std::vector<std::string_view>> splits = {{s.text}, cut(s.text, 1), cut(s.text, 7)};
    for (int i = 0; i < 50; ++i) splits.push_back(random_cut(s.text, rng));
    for (const auto& pieces : splits) {
      auto got = run("text/event-stream; charset=utf-8", pieces);
      CHECK(got.found == s.expected.found);
      CHECK(got.input == s.expected.input);
      CHECK(got.output == s.expected.output);
      CHECK(got.cached == s.expected.cached);
      CHECK(got.reasoning == s.expected.reasoning);
      if (!s.expected.model.empty()) CHECK(got.model == s.expected.model);
    }
  }
}

TEST_CASE("a stream without usage, and a cut one, report none (never zero tokens)") {
  CHECK_FALSE(run("text/event-stream", cut(kChatWithoutUsage, 3)).found);
  auto half = kChatWithUsage.substr(0, kChatWithUsage.find("\"choices\":[]"));
  CHECK_FALSE(run("text/event-stream", {half}, false).found);
}

TEST_CASE("JSON bodies: chat, embeddings, Responses; error statuses and other types are not read") {
  std::string chat = R"({"id":"c","object":"chat.completion","model":"gpt-4o","choices":[],)"
                     R"("usage":{"prompt_tokens":12,"completion_tokens":34,"total_tokens":46,)"
                     R"("prompt_tokens_details":{"cached_tokens":10}}})";
  auto got = run("application/json", cut(chat, 5));
  CHECK(got.found);
  CHECK(got.input == 12);
  CHECK(got.output == 34);
  CHECK(got.cached == 10);
  CHECK(got.model == "gpt-4o");
  auto embeddings =
      run("application/json; charset=utf-8",
          {R"({"object":"list","data":[],"usage":{"prompt_tokens":8,"total_tokens":8}})"});
  CHECK(embeddings.found);
  CHECK(embeddings.input == 8);
  CHECK(embeddings.output == 0);
  auto responses =
      run("application/json",
          {R"({"id":"resp_1","object":"response","usage":{"input_tokens":5,"output_tokens":7}})"});
  CHECK(responses.input == 5);
  CHECK(responses.output == 7);
  // A body cut short is not read.
  CHECK_FALSE(run("application/json", {chat.substr(0, 40)}, false).found);
  CHECK_FALSE(run("text/plain", {chat}).found);
}

TEST_CASE("the SSE scanner: line ends, comments, fields, and bounded lines") {
  std::vector<std::pair<std::string, std::string>> events;
  aigw::proxy::sse_scanner scanner;
  auto collect = [&](std::string_view name, std::string_view data) {
    events.emplace_back(std::string(name), std::string(data));
  };
  std::string text = "event: a\r\ndata: 1\r\ndata:2\r\n\r\n: comment\n\nid: 5\ndata\n\ndata: x\r\r";
  for (auto piece : cut(text, 1)) scanner.feed(piece, collect);
  REQUIRE(events.size() == 3);
  CHECK(events[0] == std::pair<std::string, std::string>{"a", "1\n2"});
  CHECK(events[1] == std::pair<std::string, std::string>{"", ""});
  CHECK(events[2] == std::pair<std::string, std::string>{"", "x"});

  // A line over the bound is dropped, and the stream goes on after it.
  events.clear();
  std::string huge = "data: " + std::string(aigw::proxy::sse_scanner::kMaxHeld + 10, 'x');
  scanner.feed(huge.substr(0, 1000), collect);
  scanner.feed(huge.substr(1000), collect);
  scanner.feed("\n\ndata: after\n\n", collect);
  REQUIRE(events.size() == 1);
  CHECK(events[0].second == "after");
}

namespace {

std::string forced_body(std::string body, std::string_view model = {}) {
  aigw::json::request_fields fields;
  REQUIRE(aigw::json::extract_request_fields(body, fields) == aigw::errc::ok);
  return aigw::json::with_usage_forced(body, fields, model);
}

// What a client that did not ask for usage gets through the forcing stage.
struct forced_run {
  std::string sent;
  counted usage;
};
forced_run run_forced(const std::vector<std::string_view>& pieces) {
  usage_stage stage;
  stage.prepare(true, false);
  http::response_header<> head;
  head.result(200);
  head.set(http::field::content_type, "text/event-stream");
  stage.on_head(head);
  forced_run r;
  auto* out = stage.output();
  REQUIRE(out);
  for (auto piece : pieces) {
    stage.on_data(piece);
    r.sent += *out;
    out->clear();
  }
  stage.on_end(true);
  r.sent += *out;
  const auto& u = stage.usage();
  r.usage = {u.found, u.input, u.output, u.cached_input, u.reasoning, u.model};
  return r;
}

}  // namespace

TEST_CASE("forcing usage on a stream: include_usage set, added, or stream_options added") {
  CHECK(forced_body(R"({"model":"m","stream":true})") ==
        R"({"stream_options":{"include_usage":true},"model":"m","stream":true})");
  CHECK(forced_body(R"({"model":"m","stream_options":{}})") ==
        R"({"model":"m","stream_options":{"include_usage":true}})");
  CHECK(forced_body(R"({"model":"m","stream_options":{"x":1}})") ==
        R"({"model":"m","stream_options":{"include_usage":true,"x":1}})");
  CHECK(forced_body(R"({"model":"m","stream_options":{"include_usage": false }})") ==
        R"({"model":"m","stream_options":{"include_usage": true }})");
  // With a model override, both edits, every other byte kept.
  CHECK(forced_body(R"( { "model" : "alias", "stream":true})", "real-model") ==
        R"( {"stream_options":{"include_usage":true}, "model" : "real-model", "stream":true})");
}

TEST_CASE("forced usage is read and taken out: the client gets the stream it asked for") {
  // kChatWithUsage without its usage-only chunk and without the "usage":null fields.
  std::string expected = kChatWithUsage;
  for (std::size_t at; (at = expected.find(",\"usage\":null")) != std::string::npos;)
    expected.erase(at, 13);
  auto usage_chunk = expected.find(
      "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\","
      "\"model\":\"gpt-4o-2024-08-06\",\"choices\":[],");
  REQUIRE(usage_chunk != std::string::npos);
  expected.erase(usage_chunk, expected.find("\n\n", usage_chunk) + 2 - usage_chunk);
  REQUIRE(expected.find("usage") == std::string::npos);

  std::mt19937 rng(42);
  std::vector<std::vector<std::string_view>> splits = {{kChatWithUsage}, cut(kChatWithUsage, 1)};
  for (int i = 0; i < 50; ++i) splits.push_back(random_cut(kChatWithUsage, rng));
  for (const auto& pieces : splits) {
    auto r = run_forced(pieces);
    CHECK(r.sent == expected);
    CHECK(r.usage.found);
    CHECK(r.usage.input == 19);
    CHECK(r.usage.output == 10);
  }
  // A backend that ignored the option: the stream passes as it came, usage missing.
  auto plain = run_forced(cut(kChatWithoutUsage, 5));
  CHECK(plain.sent == kChatWithoutUsage);
  CHECK_FALSE(plain.usage.found);
}
