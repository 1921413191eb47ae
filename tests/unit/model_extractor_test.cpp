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

TEST_CASE("a stream field that is not a boolean is left for the backend") {
  auto o = scan(R"({"model":"a","stream":"yes"})");
  CHECK(o.error == errc::ok);
  CHECK_FALSE(o.fields.stream);
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
