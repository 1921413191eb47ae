// A backend's event stream, cut into reads as the input says: the SSE scanner
// (proxy::sse_scanner), and each event's data through every reader of stream events: usage
// (json::read_usage), OpenAI chunks (json::read_stream_chunk, json::read_chat_chunk) and
// Anthropic events (json::read_anthropic_event). Invariant: how the stream is cut never
// changes the events it holds.
#include <utility>
#include <vector>

#include "aigw/json/anthropic_event.hpp"
#include "aigw/json/chat_chunk.hpp"
#include "aigw/json/model_extractor.hpp"
#include "aigw/json/stream_chunk.hpp"
#include "aigw/json/usage_scan.hpp"
#include "aigw/proxy/sse_scanner.hpp"
#include "fuzz_input.hpp"

namespace {

using events = std::vector<std::pair<std::string, std::string>>;

events scan(std::string_view stream, std::uint8_t seed) {
  aigw::proxy::sse_scanner scanner;
  events out;
  aigw::fuzz::in_pieces(stream, seed, 64, [&](std::string_view piece) {
    scanner.feed(piece, [&](std::string_view name, std::string_view data) {
      out.emplace_back(std::string(name), std::string(data));
    });
  });
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  aigw::fuzz::input in(data, size);
  auto seed = in.choice();
  auto stream = in.rest();
  auto whole = scan(stream, 0);
  AIGW_FUZZ_CHECK(scan(stream, seed) == whole);

  aigw::json::usage_reading usage;
  std::string content;
  for (const auto& [name, event_data] : whole) {
    std::string padded = event_data;
    padded.reserve(padded.size() + aigw::json::parse_padding);
    aigw::json::read_usage(padded, usage);
    aigw::json::stream_chunk chunk;
    aigw::json::read_stream_chunk(padded, chunk, content);
    aigw::json::chat_chunk chat;
    aigw::json::read_chat_chunk(padded, chat);
    aigw::json::anthropic_event event;
    aigw::json::read_anthropic_event(padded, event);
  }
  return 0;
}
