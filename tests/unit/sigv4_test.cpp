// SigV4 against AWS's published Signature Version 4 test suite (credentials AKIDEXAMPLE,
// 2015-08-30T12:36:00Z, us-east-1, service "service"), and the encodings Bedrock needs.
#include <doctest/doctest.h>

#include "aigw/upstream/sigv4.hpp"

using aigw::upstream::aws_credentials;
using aigw::upstream::sigv4_authorization;
using aigw::upstream::sigv4_canonical_request;
using aigw::upstream::sigv4_request;

namespace {

const aws_credentials kExample{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
constexpr std::string_view kDate = "20150830T123600Z";

std::string signature_of(const sigv4_request& request,
                         const aws_credentials& credentials = kExample) {
  auto authorization = sigv4_authorization(request, credentials, "us-east-1", "service", kDate);
  return authorization.substr(authorization.find("Signature=") + 10);
}

}  // namespace

TEST_CASE("sigv4: the test suite's vanilla requests") {
  sigv4_request post{
      .method = "POST",
      .path = "/",
      .query = "",
      .headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", std::string(kDate)}},
      .payload = ""};
  CHECK(sigv4_authorization(post, kExample, "us-east-1", "service", kDate) ==
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");

  // get-vanilla-query-order-key: parameters sorted by name, then value (bytes).
  sigv4_request get{
      .method = "GET",
      .path = "/",
      .query = "Param1=value2&Param1=Value1",
      .headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", std::string(kDate)}},
      .payload = ""};
  CHECK(sigv4_canonical_request(get) ==
        "GET\n/\nParam1=Value1&Param1=value2\nhost:example.amazonaws.com\n"
        "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(signature_of(get) == "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1");
}

TEST_CASE("sigv4: a body and its content type are signed") {
  sigv4_request form{.method = "POST",
                     .path = "/",
                     .query = "",
                     .headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                                 {"Host", "example.amazonaws.com"},
                                 {"X-Amz-Date", std::string(kDate)}},
                     .payload = "Param1=value1"};
  CHECK(sigv4_canonical_request(form) ==
        "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\n"
        "x-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n"
        "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
  CHECK(signature_of(form) == "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
}

TEST_CASE("sigv4: temporary credentials sign their session token header") {
  const std::string token =
      "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfp"
      "SPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPky"
      "QDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz"
      "+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
  sigv4_request post{.method = "POST",
                     .path = "/",
                     .query = "",
                     .headers = {{"Host", "example.amazonaws.com"},
                                 {"X-Amz-Date", std::string(kDate)},
                                 {"X-Amz-Security-Token", token}},
                     .payload = ""};
  auto credentials = kExample;
  credentials.session_token = token;
  CHECK(signature_of(post, credentials) ==
        "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead");
}

TEST_CASE("sigv4: canonical forms Bedrock needs") {
  // A model id's ':' goes on the wire as %3A, and is encoded once more for signing.
  sigv4_request bedrock{.method = "POST",
                        .path = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse",
                        .query = "",
                        .headers = {{"host", "bedrock-runtime.us-east-1.amazonaws.com"},
                                    {"x-amz-date", std::string(kDate)},
                                    {"Content-Type", "  application/json  "},
                                    {"X-Custom", "a   b"},
                                    {"x-custom", "c"}},
                        .payload = "{}"};
  auto canonical = sigv4_canonical_request(bedrock);
  CHECK(canonical.starts_with(
      "POST\n/model/anthropic.claude-3-haiku-20240307-v1%253A0/converse\n\n"
      "content-type:application/json\nhost:bedrock-runtime.us-east-1.amazonaws.com\n"
      "x-amz-date:20150830T123600Z\nx-custom:a b,c\n\n"
      "content-type;host;x-amz-date;x-custom\n"));
  CHECK(aigw::upstream::amz_date(std::chrono::system_clock::from_time_t(1440938160)) == kDate);
}
