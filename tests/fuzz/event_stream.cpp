// Bedrock's binary event stream (proxy::event_stream_decoder), cut into reads as the input
// says, and each message's payload through json::read_converse_event. Invariants: how the
// bytes are cut never changes the messages or the error; a message never exceeds the bound.
#include <string>
#include <utility>
#include <vector>

#include "aigw/json/converse_event.hpp"
#include "aigw/json/model_extractor.hpp"
#include "aigw/proxy/event_stream.hpp"
#include "fuzz_input.hpp"

namespace {

struct decoded {
  std::vector<std::pair<std::string, std::string>> messages;  // event type, payload
  aigw::proxy::event_stream_decoder::status status{};
  bool operator==(const decoded&) const = default;
};

decoded decode(std::string_view bytes, std::uint8_t seed) {
  aigw::proxy::event_stream_decoder decoder;
  decoded out;
  aigw::fuzz::in_pieces(bytes, seed, 512, [&](std::string_view piece) {
    out.status = decoder.feed(piece, [&](const aigw::proxy::event_stream_message& m) {
      AIGW_FUZZ_CHECK(m.payload.size() <= aigw::proxy::event_stream_decoder::kMaxMessage);
      out.messages.emplace_back(std::string(m.header(":event-type")), std::string(m.payload));
    });
  });
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  aigw::fuzz::input in(data, size);
  auto seed = in.choice();
  auto bytes = in.rest();
  auto whole = decode(bytes, 0);
  AIGW_FUZZ_CHECK(decode(bytes, seed) == whole);
  for (const auto& [type, payload] : whole.messages) {
    std::string padded = payload;
    padded.reserve(padded.size() + aigw::json::parse_padding);
    aigw::json::converse_event event;
    aigw::json::read_converse_event(padded, event);
  }
  return 0;
}
