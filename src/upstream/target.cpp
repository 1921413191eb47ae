#include "aigw/upstream/target.hpp"

#include <algorithm>
#include <tuple>

#include <fmt/format.h>
#include <boost/url/parse.hpp>

#include "aigw/config/loader.hpp"
#include "aigw/providers/adapter.hpp"

namespace aigw::upstream {

bool is_safe_path_segment(std::string_view s) noexcept {
  if (s.empty() || s == "." || s == "..") return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '~' || c == ':' || c == '-';
  });
}

target target::compile(const config::backend& backend, const std::string& path) {
  target t;
  t.name = backend.name;
  auto url = boost::urls::parse_absolute_uri(backend.url).value();  // validated by the loader
  t.tls = url.scheme() == "https";
  t.host = url.host_address();
  t.port = url.has_port() ? std::string(url.port()) : (t.tls ? "443" : "80");
  bool default_port = t.port == (t.tls ? "443" : "80");
  std::string host_for_header =
      url.host_type() == boost::urls::host_type::ipv6 ? fmt::format("[{}]", t.host) : t.host;
  t.host_header = default_port ? host_for_header : fmt::format("{}:{}", host_for_header, t.port);
  t.base_path = std::string(url.encoded_path());
  while (!t.base_path.empty() && t.base_path.back() == '/') t.base_path.pop_back();
  t.schema = backend.schema;
  t.api_version = backend.api_version;
  t.deployments = backend.deployments;
  t.max_tokens = backend.max_tokens;
  t.region = backend.region;
  t.aws = {backend.aws.access_key_id, backend.aws.secret_access_key, backend.aws.session_token};
  // Both go into every request line to this backend.
  if (t.schema == config::schema::azure_openai && !is_safe_path_segment(t.api_version))
    throw config::config_error(
        fmt::format("{}.api_version: \"{}\" is not a version (letters, digits and . _ ~ : -)", path,
                    t.api_version));
  // (A Bedrock model id is percent-encoded into its path: an inference profile's ARN has '/'.)
  if (t.schema == config::schema::azure_openai)
    for (const auto& [model, deployment] : t.deployments)
      if (!is_safe_path_segment(deployment))
        throw config::config_error(fmt::format(
            "{}.deployments.{}: \"{}\" is not a deployment name (letters, digits and . _ ~ : -)",
            path, model, deployment));
  // What goes into header values: never a line break (whatever config dialect, environment
  // variable or credentials file it came from). The values are secrets: not quoted.
  auto one_line = [&](std::string_view value, std::string_view what) {
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos)
      throw config::config_error(fmt::format("{}: the {} has a line break or NUL", path, what));
  };
  one_line(backend.api_key, "api key");
  one_line(t.aws.access_key_id, "AWS access key id");
  one_line(t.aws.secret_access_key, "AWS secret access key");
  one_line(t.aws.session_token, "AWS session token");
  if (t.schema == config::schema::bedrock && !config::is_aws_region(t.region))
    throw config::config_error(
        fmt::format("{}: \"{}\" is not an AWS region (like us-east-1)", path, t.region));
  t.adapter = &providers::adapter_for(backend.schema);
  if (!backend.api_key.empty())
    std::tie(t.credential_name, t.credential_value) = t.adapter->credential(backend.api_key);
  t.connect_timeout = backend.connect_timeout;
  t.first_byte_timeout = backend.first_byte_timeout;
  t.idle_timeout = backend.idle_timeout;

  if (t.tls) {
    namespace ssl = boost::asio::ssl;
    t.tls_context = std::make_shared<ssl::context>(ssl::context::tls_client);
    auto& ctx = *t.tls_context;
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    boost::system::error_code ec;
    if (backend.tls_insecure_skip_verify) {
      ctx.set_verify_mode(ssl::verify_none);
    } else {
      ctx.set_verify_mode(ssl::verify_peer);
      if (!backend.ca_file.empty()) {
        ctx.load_verify_file(backend.ca_file, ec);
        if (ec)
          throw config::config_error(fmt::format("{}.ca_file: cannot load \"{}\": {}", path,
                                                 backend.ca_file, ec.message()));
      } else {
        ctx.set_default_verify_paths(ec);
        if (ec)
          throw config::config_error(
              fmt::format("{}: cannot load the system trust store: {}", path, ec.message()));
      }
    }
  }
  t.health = std::make_shared<backend_health>(backend.name, backend.breaker);
  return t;
}

std::string_view target::deployment_for(std::string_view model) const {
  for (const auto& [name, deployment] : deployments)
    if (name == model) return deployment;
  return model;
}

}  // namespace aigw::upstream
