// A client's request body: the one pass that validates it and reads what routing needs
// (json::extract_request_fields), the rewrites made from what it found (a new model, usage
// asked for), and the object ids in it (proxy::object_ids::restore). Invariants: a rewritten
// body is again one valid JSON object with the new model, and its other fields unchanged.
#include "aigw/core/errc.hpp"
#include "aigw/json/model_extractor.hpp"
#include "aigw/proxy/object_ids.hpp"
#include "fixtures.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string body(reinterpret_cast<const char*>(data), size);
  aigw::json::request_fields fields;
  if (aigw::json::extract_request_fields(body, fields) != aigw::errc::ok) return 0;

  aigw::proxy::object_ids::request_ids restored;
  aigw::fuzz::three_backend_ids().restore("/responses", "", body, fields.tagged_ids, restored);
  if (!restored.body.empty()) {
    aigw::json::request_fields again;
    AIGW_FUZZ_CHECK(aigw::json::extract_request_fields(restored.body, again) == aigw::errc::ok);
  }

  if (fields.has_model) {
    std::string renamed = body;
    aigw::json::replace_model(renamed, fields, "model \"with\" quotes\n");
    aigw::json::request_fields after;
    AIGW_FUZZ_CHECK(aigw::json::extract_request_fields(renamed, after) == aigw::errc::ok);
    AIGW_FUZZ_CHECK(after.model == "model \"with\" quotes\n");
    AIGW_FUZZ_CHECK(after.stream == fields.stream && after.max_tokens == fields.max_tokens);
  }
  if (fields.stream) {
    auto forced = aigw::json::with_usage_forced(body, fields, fields.has_model ? "m" : "");
    aigw::json::request_fields after;
    AIGW_FUZZ_CHECK(aigw::json::extract_request_fields(forced, after) == aigw::errc::ok);
    AIGW_FUZZ_CHECK(after.include_usage && after.stream);
  }
  return 0;
}
