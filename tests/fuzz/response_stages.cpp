// A backend's answer through the response stages a session chains (proxy/response_stage.hpp),
// driven as the relay drives them: the translations of Anthropic's and Bedrock's answers for
// OpenAI clients and of OpenAI's for Anthropic clients (each with the usage stage reading
// after it), object id tagging, stream resumption, and the usage stage taking out a usage
// chunk the client did not ask for. The input chooses the chain, the answer's head, whether
// the body ends cleanly, and how it is cut into reads. Invariants:
//   - the client gets the same bytes, head fields and usage however the body is cut, and
//     from stages that relayed another answer before (the input's first) as from new ones:
//     an answer leaves nothing behind;
//   - what a translation sends is whole events, each one's data JSON (or [DONE]), or one
//     JSON document; object id tagging keeps a JSON body JSON.
#include <cstdio>
#include <ctime>
#include <span>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>

#include "aigw/providers/anthropic_stage.hpp"
#include "aigw/providers/bedrock_stage.hpp"
#include "aigw/proxy/object_id_stage.hpp"
#include "aigw/proxy/resume_stage.hpp"
#include "aigw/proxy/sse_scanner.hpp"
#include "aigw/proxy/usage_stage.hpp"
#include "fixtures.hpp"
#include "fuzz_input.hpp"

namespace {

namespace http = boost::beast::http;
using aigw::proxy::response_stage;

enum class chain { anthropic_chat, anthropic_messages, bedrock_chat, object_ids, resume, usage };
constexpr unsigned kChains = 6;

struct choices {
  chain which;
  http::response_header<> head;
  bool include_usage, complete, continuation, usage_headers;
  std::size_t backend;
};

// An answer's head and flags (two bytes of the input), for the chain `which`.
choices choose(chain which, aigw::fuzz::input& in) {
  static constexpr unsigned statuses[] = {200, 200, 200, 201, 400, 429, 500, 529};
  static constexpr const char* types[] = {"text/event-stream",
                                          "application/json",
                                          "application/vnd.amazon.eventstream",
                                          "text/event-stream; charset=utf-8",
                                          "application/json; charset=utf-8",
                                          "text/plain",
                                          ""};
  choices c;
  c.which = which;
  auto head = in.choice();
  auto flags = in.choice();
  c.head.result(statuses[head % std::size(statuses)]);
  if (const char* type = types[(head >> 3) % std::size(types)]; *type)
    c.head.set(http::field::content_type, type);
  c.head.set("x-amzn-requestid", "4f1b-req");
  if (flags & 0x80) c.head.set("x-amzn-errortype", "ThrottlingException:http://internal/");
  if (flags & 0x40) c.head.set(http::field::content_encoding, "gzip");
  c.include_usage = flags & 1;
  c.complete = flags & 2;
  c.continuation = flags & 4;
  c.usage_headers = flags & 8;
  c.backend = (flags >> 4) % 3;
  return c;
}

// What the client got from one answer.
struct outcome {
  std::string content_type;  // of the head the client got
  std::string sent;          // the body's bytes
  std::string head_fields;   // what the stages put in the head
  bool transformed = false;
  bool failed = false;
  aigw::json::usage_reading usage;  // what the usage stage found
  bool usage_complete = false;

  bool operator==(const outcome& o) const {
    const auto &u = usage, &v = o.usage;
    return content_type == o.content_type && sent == o.sent && head_fields == o.head_fields &&
           transformed == o.transformed && failed == o.failed &&
           usage_complete == o.usage_complete && u.found == v.found && u.input == v.input &&
           u.output == v.output && u.cached_input == v.cached_input &&
           u.cache_creation_input == v.cache_creation_input && u.reasoning == v.reasoning &&
           u.model == v.model;
  }
};

// The stages of a session, kept from answer to answer as a session keeps them.
struct session_stages {
  aigw::providers::anthropic::chat_stage anthropic_chat;
  aigw::providers::anthropic::messages_stage anthropic_messages;
  aigw::providers::bedrock::chat_stage bedrock_chat;
  aigw::proxy::object_id_stage object_ids;
  aigw::proxy::resume_stage resume;
  aigw::proxy::usage_stage usage;

  // Prepares the chain as a session does before an attempt; the stages in order. A
  // continuation goes on from the answer these stages relayed last, in the same request.
  std::vector<response_stage*> prepare(const choices& c, bool continuation = false) {
    response_stage* first = nullptr;
    switch (c.which) {
      case chain::anthropic_chat:
        anthropic_chat.prepare(c.include_usage);
        first = &anthropic_chat;
        break;
      case chain::anthropic_messages:
        first = &anthropic_messages;
        break;
      case chain::bedrock_chat:
        bedrock_chat.prepare(c.include_usage, "anthropic.claude-3-haiku");
        first = &bedrock_chat;
        break;
      case chain::object_ids:
        object_ids.prepare(aigw::fuzz::three_backend_ids(), c.backend);
        first = &object_ids;
        break;
      case chain::resume:
        if (continuation)
          resume.continue_stream();
        else
          resume.start();
        first = &resume;
        break;
      case chain::usage:
        usage.prepare(/*forced=*/true, c.usage_headers);
        return {&usage};
    }
    bool translates = c.which <= chain::bedrock_chat;
    usage.prepare(false, c.usage_headers, translates ? first : nullptr);
    return {first, &usage};
  }
};

// Runs one answer through `stages` as exchange.cpp's relay does: the transforming stage (the
// first, if it gives an output) sees the upstream's bytes, the others what the client gets;
// a transformation that fails ends the answer there, as cut.
outcome relay(std::span<response_stage* const> stages, const choices& c, std::string_view body,
              std::uint8_t seed) {
  outcome o;
  auto head = c.head;
  stages.front()->on_head(head);
  std::string* output = stages.front()->output();
  response_stage* transformer = output ? stages.front() : nullptr;
  if (transformer) {
    output->clear();
    transformer->client_head(head);
  }
  for (auto* stage : stages.subspan(1)) stage->on_head(head);
  auto readers = transformer ? stages.subspan(1) : stages;
  o.transformed = transformer != nullptr;
  auto type = head[http::field::content_type];
  o.content_type.assign(type.data(), type.size());

  auto deliver = [&](std::string_view bytes) {
    o.sent.append(bytes);
    if (!bytes.empty())
      for (auto* stage : readers) stage->on_data(bytes);
  };
  std::vector<std::string_view> pieces;
  aigw::fuzz::in_pieces(body, seed, 4096, [&](std::string_view piece) { pieces.push_back(piece); });
  bool transform_ended = false;
  for (std::size_t i = 0; i < pieces.size() && !o.failed; ++i) {
    if (!transformer) {
      deliver(pieces[i]);
      continue;
    }
    transformer->on_data(pieces[i]);
    o.failed = transformer->failed();
    if (i + 1 == pieces.size() && c.complete && !o.failed) {
      transform_ended = true;
      transformer->on_end(true);
      o.failed = transformer->failed();
    }
    deliver(*output);
    output->clear();
  }
  bool complete = c.complete && !o.failed;
  if (transformer && !transform_ended) transformer->on_end(complete);  // nothing more is sent
  for (auto* stage : readers) stage->on_end(complete);
  for (auto* stage : stages) stage->head_fields(o.head_fields);
  return o;
}

// Says what differs before it aborts: the finding is then readable from the replay alone.
void check_same(const outcome& expected, const outcome& got, const char* how) {
  if (got == expected) return;
  auto show = [](const outcome& o) {
    std::fprintf(stderr,
                 "  content_type=%s transformed=%d failed=%d usage=%d in=%llu out=%llu "
                 "model=%s complete=%d\n  head_fields=[%s]\n  sent (%zu bytes)=[%s]\n",
                 o.content_type.c_str(), o.transformed, o.failed, o.usage.found,
                 static_cast<unsigned long long>(o.usage.input),
                 static_cast<unsigned long long>(o.usage.output), o.usage.model.c_str(),
                 o.usage_complete, o.head_fields.c_str(), o.sent.size(), o.sent.c_str());
  };
  std::fprintf(stderr, "the answer differs %s; whole, at once:\n", how);
  show(expected);
  std::fprintf(stderr, "%s:\n", how);
  show(got);
  aigw::fuzz::broken("the same answer, however it is read");
}

bool is_json(std::string_view text) {
  boost::system::error_code ec;
  boost::json::parse(text, ec);
  return !ec;
}

// A translation's output: whole events with JSON data, or one JSON document.
void check_translation(const outcome& o) {
  if (o.sent.empty()) return;
  if (aigw::proxy::is_media_type(o.content_type, "text/event-stream")) {
    AIGW_FUZZ_CHECK(o.sent.ends_with("\n\n"));
    aigw::proxy::sse_scanner scanner;
    std::size_t events = 0;
    scanner.feed(o.sent, [&](std::string_view, std::string_view data) {
      ++events;
      if (data != "[DONE]" && !is_json(data)) {
        std::fprintf(stderr, "an event's data is not JSON: [%.*s]\n", static_cast<int>(data.size()),
                     data.data());
        aigw::fuzz::broken("a translated event's data is JSON");
      }
    });
    AIGW_FUZZ_CHECK(events > 0);
  } else {
    AIGW_FUZZ_CHECK(is_json(o.sent));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // [chain] [head, flags] [cut seed] [the previous answer's head, flags] [its length: 2 bytes]
  // [the previous answer] [the answer]
  aigw::fuzz::input in(data, size);
  auto which = static_cast<chain>(in.choice() % kChains);
  auto c = choose(which, in);
  auto seed = in.choice();
  auto previous = choose(which, in);
  std::size_t previous_size = in.choice() << 8;
  previous_size += in.choice();
  auto rest = in.rest();
  auto previous_body = rest.substr(0, previous_size);
  auto body = rest.substr(previous_body.size());

  // A resumed stream's continuation (the resume chain with its flag) is the second attempt of
  // one request: its stages always relayed the previous answer, the broken first stream, before.
  bool continuation = which == chain::resume && c.continuation;
  auto run = [&](session_stages& s, const choices& answer, std::string_view bytes, std::uint8_t cut,
                 bool continues) {
    auto stages = s.prepare(answer, continues);
    auto o = relay(stages, answer, bytes, cut);
    o.usage = s.usage.usage();
    o.usage_complete = s.usage.complete();
    return o;
  };
  auto answer = [&](session_stages& s, std::uint8_t cut) {
    if (continuation) run(s, previous, previous_body, cut, false);
    return run(s, c, body, cut, continuation);
  };
  // The translations stamp "created" with the clock: compare within one second only.
  auto before = std::time(nullptr);
  session_stages fresh, fresh_cut, reused;
  auto whole = answer(fresh, 0);
  auto cut = answer(fresh_cut, seed);
  run(reused, previous, previous_body, seed, false);
  auto after_another = answer(reused, seed);
  if (std::time(nullptr) == before) {
    check_same(whole, cut, "cut into other reads");
    check_same(whole, after_another, "from stages reused after another answer");
  }

  if (whole.transformed && c.which <= chain::bedrock_chat) check_translation(whole);
  if (c.which == chain::object_ids && whole.transformed && c.complete &&
      aigw::proxy::is_media_type(whole.content_type, "application/json") && is_json(body))
    AIGW_FUZZ_CHECK(is_json(whole.sent));
  return 0;
}
