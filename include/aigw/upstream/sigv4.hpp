#pragma once
// AWS Signature Version 4 (for Bedrock): the Authorization header of a request, from its
// method, path, query, the headers to sign and its payload. HMAC-SHA256 and SHA-256 come from
// OpenSSL. Checked against AWS's published test suite (tests/unit/sigv4_test.cpp).
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aigw::upstream {

struct aws_credentials {
  std::string access_key_id;
  std::string secret_access_key;  // secret: never logged
  std::string session_token;      // temporary credentials (STS); empty for none
};

struct sigv4_request {
  std::string_view method;  // "POST"
  // The path as it goes on the wire (already percent-encoded where it needs to be: a Bedrock
  // model id's ':' is "%3A"). Each segment is encoded once more for signing, as AWS wants
  // for every service but S3.
  std::string_view path;
  std::string_view query;  // without the '?': "a=1&b=2", or empty
  // Every header to sign (names in any case), host and x-amz-date among them; a session
  // token's x-amz-security-token too.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view payload;
};

// "20150830T123600Z" for a moment.
std::string amz_date(std::chrono::system_clock::time_point t);

// The canonical request (AWS's step 1), for tests and debugging.
std::string sigv4_canonical_request(const sigv4_request& request);

// The Authorization header's value: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
// Signature=... for `amz_date` (which must equal the request's x-amz-date header).
std::string sigv4_authorization(const sigv4_request& request, const aws_credentials& credentials,
                                std::string_view region, std::string_view service,
                                std::string_view amz_date);

// SHA-256 of `data`, as 64 lower-case hex digits.
std::string sha256_hex(std::string_view data);

}  // namespace aigw::upstream
