#include <doctest/doctest.h>

#include <string>

#include "aigw/json/model_extractor.hpp"

using aigw::errc;
using aigw::json::extract_request_fields;
using aigw::json::request_fields;

namespace {
struct outcome {
  errc error;
  request_fields fields;
};
outcome scan(std::string body) {
  outcome o;
  o.error = extract_request_fields(body, o.fields);
  return o;
}
}  // namespace

TEST_CASE("model first, last, or absent") {
  auto first = scan(R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]})");
  CHECK(first.error == errc::ok);
  CHECK(first.fields.has_model);
  CHECK(first.fields.model == "gpt-4o");
  CHECK_FALSE(first.fields.stream);

  auto last =
      scan(R"({"messages":[{"role":"user","content":"model"}],"stream":true,"model":"llama3"})");
  CHECK(last.error == errc::ok);
  CHECK(last.fields.model == "llama3");
  CHECK(last.fields.stream);

  auto absent = scan(R"({"input":"text"})");
  CHECK(absent.error == errc::ok);
  CHECK_FALSE(absent.fields.has_model);
  CHECK(absent.fields.model.empty());
}

TEST_CASE("nested model fields are not the request's model") {
  auto o = scan(R"({"tools":[{"model":"inner"}],"metadata":{"model":"x"},"model":"outer"})");
  CHECK(o.error == errc::ok);
  CHECK(o.fields.model == "outer");
}

TEST_CASE("escapes in keys and values are decoded") {
  auto o = scan(R"({"mod\u0065l":"qwen\/3 \u00e9"})");
  CHECK(o.error == errc::ok);
  CHECK(o.fields.model == "qwen/3 \xc3\xa9");
}

TEST_CASE("duplicated model keys are refused, also when spelled with escapes") {
  CHECK(scan(R"({"model":"a","model":"b"})").error == errc::duplicate_model);
  CHECK(scan(R"({"model":"a","x":1,"m\u006fdel":"b"})").error == errc::duplicate_model);
}

TEST_CASE("malformed JSON anywhere in the body is refused") {
  CHECK(scan("").error == errc::invalid_json);
  CHECK(scan("   ").error == errc::invalid_json);
  CHECK(scan("[1,2]").error == errc::invalid_json);
  CHECK(scan(R"("model")").error == errc::invalid_json);
  CHECK(scan(R"({"model":"a")").error == errc::invalid_json);
  CHECK(scan(R"({"model":"a",})").error == errc::invalid_json);
  CHECK(scan(R"({"model":"a"} {"b":1})").error == errc::invalid_json);
  CHECK(scan(R"({"model":"a"}x)").error == errc::invalid_json);
  CHECK(scan(R"({"model":"a","messages":[{"content":tru}]})").error == errc::invalid_json);
  CHECK(scan(R"({"model":"a","messages":[1,,2]})").error == errc::invalid_json);
  CHECK(scan(R"({"model":"a","n":01})").error == errc::invalid_json);
  CHECK(scan(R"({"model":"a","s":"bad \x escape"})").error == errc::invalid_json);
  CHECK(scan(R"({model:"a"})").error == errc::invalid_json);
}

TEST_CASE("invalid UTF-8 is refused") {
  CHECK(scan("{\"model\":\"a\",\"content\":\"\xff\xfe\"}").error == errc::invalid_utf8);
  CHECK(scan("{\"model\":\"\xc3\x28\"}").error == errc::invalid_utf8);
}

TEST_CASE("a model that is not a string is refused") {
  CHECK(scan(R"({"model":42})").error == errc::invalid_model);
  CHECK(scan(R"({"model":null})").error == errc::invalid_model);
  CHECK(scan(R"({"model":["a"],"x":})").error == errc::invalid_json);
}

TEST_CASE("a boolean field that is not a boolean is refused (a backend may coerce it)") {
  for (auto body :
       {R"({"model":"a","stream":"true"})", R"({"model":"a","stream":1})",
        R"({"model":"a","store":"yes"})", R"({"model":"a","stream_options":{"include_usage":0}})",
        R"({"model":"a","stream_options":"x"})"}) {
    auto o = scan(body);
    CHECK_MESSAGE(o.error == errc::invalid_parameter, body);
    CHECK(!o.fields.problem.empty());
  }
  auto null = scan(R"({"model":"a","stream":null,"store":null,"stream_options":null})");
  CHECK(null.error == errc::ok);
  CHECK_FALSE(null.fields.stream);
}

TEST_CASE(
    "output limits: the largest one counts; anything but a whole number in range is refused") {
  auto both = scan(R"({"model":"a","max_completion_tokens":20000,"max_tokens":1})");
  CHECK(both.error == errc::ok);
  CHECK(both.fields.max_tokens == 20000);
  CHECK(scan(R"({"model":"a","max_output_tokens":77})").fields.max_tokens == 77);
  CHECK(scan(R"({"model":"a","max_tokens":null})").fields.max_tokens == 0);
  for (auto value : {"-1", "0", "1e30", "20000.0", R"("20000")", "[1]", "{}", "true",
                     "18446744073709551616", "16777217"}) {
    auto body = std::string(R"({"model":"a","max_tokens":)") + value + "}";
    auto o = scan(body);
    CHECK_MESSAGE(o.error == errc::invalid_parameter, body);
    CHECK(o.fields.problem.find("max_tokens") != std::string::npos);
  }
  CHECK(scan(R"({"model":"a","max_tokens":16777216})").error == errc::ok);
}

TEST_CASE("a field the gateway reads, given twice or in another case, is refused") {
  // Go's encoding/json (Ollama) takes "Model" for "model", the last one winning.
  CHECK(scan(R"({"model":"llama3","Model":"big-70b"})").error == errc::invalid_parameter);
  CHECK(scan(R"({"MODEL":"big-70b"})").error == errc::invalid_parameter);
  CHECK(scan(R"({"model":"a","Stream":true})").error == errc::invalid_parameter);
  CHECK(scan(R"({"model":"a","max_tokens":1,"Max_Tokens":20000})").error ==
        errc::invalid_parameter);
  CHECK(scan(R"({"model":"a","max_tokens":1,"max_tokens":20000})").error ==
        errc::invalid_parameter);
  CHECK(scan(R"({"model":"a","stream":false,"stream":true})").error == errc::invalid_parameter);
  CHECK(scan(R"({"model":"a","stream_options":{"include_usage":false,"Include_Usage":true}})")
            .error == errc::invalid_parameter);
  auto o = scan(R"({"model":"a","Model":"b"})");
  CHECK(o.fields.problem == R"("Model" is not a parameter; the name is "model")");
  // Other keys are the client's business, nested ones too.
  CHECK(scan(R"({"model":"a","Temperature":1,"metadata":{"Model":"x","model":"y"}})").error ==
        errc::ok);
}

TEST_CASE("forced usage replaces the client's value, never adds a second key") {
  auto forced = [](std::string body) {
    request_fields fields;
    REQUIRE(extract_request_fields(body, fields) == errc::ok);
    return aigw::json::with_usage_forced(body, fields, "");
  };
  CHECK(forced(R"({"model":"a","stream":true,"stream_options":null})") ==
        R"({"model":"a","stream":true,"stream_options":{"include_usage":true}})");
  CHECK(forced(R"({"model":"a","stream_options":{"include_usage":null}})") ==
        R"({"model":"a","stream_options":{"include_usage":true}})");
  CHECK(forced(R"({"model":"a","stream_options":{"include_usage":false} })") ==
        R"({"model":"a","stream_options":{"include_usage":true} })");
}

TEST_CASE("huge bodies: a 2 MiB body with the model last") {
  std::string body = R"({"messages":[)";
  std::string message = R"({"role":"user","content":")" + std::string(1000, 'x') + R"("},)";
  while (body.size() < (2u << 20)) body += message;
  body.pop_back();
  body += R"(],"model":"at-the-end"})";
  auto o = scan(body);
  CHECK(o.error == errc::ok);
  CHECK(o.fields.model == "at-the-end");

  std::string deep(5000, '[');
  CHECK(scan(R"({"model":"a","x":)" + deep).error == errc::invalid_json);
}

TEST_CASE("the caller's padding is used without copying the body") {
  std::string body = R"({"model":"m"})";
  body.reserve(body.size() + aigw::json::parse_padding);
  const char* before = body.data();
  request_fields fields;
  CHECK(extract_request_fields(body, fields) == errc::ok);
  CHECK(body.data() == before);
  CHECK(body == R"({"model":"m"})");
}

TEST_CASE("deep nesting is refused without exhausting the stack") {
  std::string deep =
      R"({"model":"m","x":)" + std::string(200000, '[') + std::string(200000, ']') + "}";
  CHECK(scan(deep).error == errc::invalid_json);
  std::string fine = R"({"model":"m","x":)" + std::string(100, '[') + std::string(100, ']') + "}";
  CHECK(scan(fine).error == errc::ok);
}

TEST_CASE("numbers beyond 64 bits are valid JSON") {
  CHECK(scan(R"({"model":"m","seed":123456789012345678901234567890})").error == errc::ok);
}

TEST_CASE("the model can be replaced in place, the rest of the body byte for byte") {
  std::string body = R"({"messages":[{"role":"user","content":"hi"}], "model" : "alias" , "n":1})";
  request_fields fields;
  REQUIRE(extract_request_fields(body, fields) == errc::ok);
  aigw::json::replace_model(body, fields, "gpt-4o \"mini\"");
  CHECK(body ==
        R"({"messages":[{"role":"user","content":"hi"}], "model" : "gpt-4o \"mini\"" , "n":1})");
  request_fields again;
  CHECK(extract_request_fields(body, again) == errc::ok);
  CHECK(again.model == "gpt-4o \"mini\"");
}
