#include <doctest/doctest.h>

#include <boost/json/parse.hpp>

#include "aigw/core/errc.hpp"

using aigw::errc;
namespace http = boost::beast::http;

TEST_CASE("each error has its status") {
  CHECK(aigw::http_status(errc::invalid_json) == http::status::bad_request);
  CHECK(aigw::http_status(errc::duplicate_model) == http::status::bad_request);
  CHECK(aigw::http_status(errc::missing_model) == http::status::bad_request);
  CHECK(aigw::http_status(errc::bad_framing) == http::status::bad_request);
  CHECK(aigw::http_status(errc::not_found) == http::status::not_found);
  CHECK(aigw::http_status(errc::body_too_large) == http::status::payload_too_large);
  CHECK(aigw::http_status(errc::headers_too_large) ==
        http::status::request_header_fields_too_large);
  CHECK(aigw::http_status(errc::upstream_unreachable) == http::status::bad_gateway);
  CHECK(aigw::http_status(errc::upstream_timeout) == http::status::gateway_timeout);
}

TEST_CASE("errors render as OpenAI-shaped JSON") {
  auto body = aigw::render_error_json(errc::missing_model);
  auto value = boost::json::parse(body);
  const auto& error = value.at("error").as_object();
  CHECK(error.at("message").as_string() == "You must provide a model parameter");
  CHECK(error.at("type").as_string() == "invalid_request_error");
  CHECK(error.at("param").is_null());
  CHECK(error.at("code").as_string() == "model_required");
  CHECK(error.size() == 4);
}

TEST_CASE("server-side errors are api_error and details are escaped") {
  auto value =
      boost::json::parse(aigw::render_error_json(errc::upstream_timeout, "backend \"a\\b\"\n"));
  CHECK(value.at("error").at("type").as_string() == "api_error");
  CHECK(value.at("error").at("message").as_string() ==
        "The backend did not start answering in time: backend \"a\\b\"\n");
}

TEST_CASE("errors are std::error_codes with Proxy-Status tokens") {
  std::error_code ec = errc::upstream_unreachable;
  CHECK(ec.category().name() == std::string("aigw"));
  CHECK(ec.message() == "The gateway could not connect to the backend");
  CHECK(aigw::proxy_status_token(errc::upstream_unreachable) == "connection_refused");
  CHECK(aigw::proxy_status_token(errc::upstream_timeout) == "http_response_timeout");
}

TEST_CASE("framing errors close the connection, content errors do not") {
  CHECK(aigw::closes_connection(errc::bad_framing));
  CHECK(aigw::closes_connection(errc::body_too_large));
  CHECK(aigw::closes_connection(errc::headers_too_large));
  CHECK_FALSE(aigw::closes_connection(errc::invalid_json));
  CHECK_FALSE(aigw::closes_connection(errc::not_found));
  CHECK_FALSE(aigw::closes_connection(errc::upstream_unreachable));
}

TEST_CASE("a detail that is not UTF-8 still renders as valid JSON") {
  // Invalid lead bytes, an overlong '/', a surrogate, a truncated sequence; then valid text.
  std::string detail = "\xff\xfe|\xc0\xaf|\xed\xa0\x80|\xe2\x82|\xe2\x82\xac \xf0\x9f\x98\x80";
  auto text = aigw::render_error_json(errc::model_not_found, detail);
  boost::system::error_code ec;
  auto value = boost::json::parse(text, ec);
  REQUIRE_FALSE(ec);
  CHECK(value.at("error").at("message").as_string() ==
        "The model does not exist on this gateway: "
        "\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
        "\xef\xbf\xbd\xef\xbf\xbd|\xe2\x82\xac \xf0\x9f\x98\x80");
}

TEST_CASE("overload refusals are 503s that close the connection") {
  CHECK(aigw::http_status(errc::overloaded) == http::status::service_unavailable);
  CHECK(aigw::http_status(errc::too_many_connections) == http::status::service_unavailable);
  CHECK(aigw::openai_code(errc::overloaded) == "overloaded");
  CHECK(aigw::closes_connection(errc::overloaded));
  CHECK(aigw::closes_connection(errc::too_many_connections));
  CHECK(aigw::http_status(errc::unsafe_model_name) == http::status::bad_request);
}

TEST_CASE("errors in Anthropic's shape for its clients, the type by status") {
  auto body = boost::json::parse(
      aigw::render_error_json(aigw::errc::missing_model, "", aigw::client_api::anthropic));
  CHECK(body.at("type") == "error");
  CHECK(body.at("error").at("type") == "invalid_request_error");
  CHECK(body.at("error").at("message").as_string().size() > 0);
  CHECK(aigw::anthropic_error_type(404) == "not_found_error");
  CHECK(aigw::anthropic_error_type(429) == "rate_limit_error");
  CHECK(aigw::anthropic_error_type(503) == "overloaded_error");
  CHECK(aigw::anthropic_error_type(502) == "api_error");
  auto unavailable = boost::json::parse(
      aigw::render_error_json(aigw::errc::no_backend, "", aigw::client_api::anthropic));
  CHECK(unavailable.at("error").at("type") == "overloaded_error");
}
