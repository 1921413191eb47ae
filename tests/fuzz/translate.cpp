// The whole-document translations between OpenAI's API and Anthropic's and Bedrock's, both
// directions (providers/anthropic.hpp, providers/bedrock.hpp); the first byte picks one.
// Invariant: whatever a translation writes is valid JSON.
#include <boost/json/parse.hpp>

#include "aigw/json/usage_scan.hpp"
#include "aigw/providers/anthropic.hpp"
#include "aigw/providers/bedrock.hpp"
#include "fuzz_input.hpp"

namespace {

void check_json(const std::string& out) {
  boost::system::error_code ec;
  boost::json::parse(out, ec);
  AIGW_FUZZ_CHECK(!ec);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace anthropic = aigw::providers::anthropic;
  namespace bedrock = aigw::providers::bedrock;
  aigw::fuzz::input in(data, size);
  auto which = in.choice() % 9;
  auto body = in.rest();
  std::string out;
  aigw::json::usage_reading usage;
  switch (which) {
    case 0:
      if (anthropic::chat_to_messages(body, {}, out).empty()) check_json(out);
      break;
    case 1:
      if (anthropic::message_to_chat(body, 1700000000, out, &usage)) check_json(out);
      break;
    case 2:
      anthropic::error_to_openai(529, body, out);
      check_json(out);
      break;
    case 3:
      if (anthropic::messages_to_chat(body, "model", out).empty()) check_json(out);
      break;
    case 4:
      if (anthropic::chat_to_message(body, out, &usage)) check_json(out);
      break;
    case 5:
      anthropic::error_to_anthropic(400, body, out);
      check_json(out);
      break;
    case 6:
      if (bedrock::chat_to_converse(body, 1024, out).empty()) check_json(out);
      break;
    case 7:
      if (bedrock::converse_to_chat(body, "chatcmpl-1", "model", 1700000000, out, &usage))
        check_json(out);
      break;
    default:
      bedrock::error_to_openai("ThrottlingException:http://internal", body, out);
      check_json(out);
      break;
  }
  return 0;
}
