#pragma once
// A backend compiled for the data plane: where to connect, what to send as Host and base
// path, the credentials to put on each request, and the TLS context (shared by all workers;
// an SSL_CTX is safe to use from several threads once configured).
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/ssl/context.hpp>

#include "aigw/config/config.hpp"
#include "aigw/upstream/backend_health.hpp"
#include "aigw/upstream/sigv4.hpp"

namespace aigw::providers {
class adapter;
}

namespace aigw::upstream {

// Whether `s` can be one segment of an upstream path as it is: letters, digits and
// . _ ~ : - (RFC 3986 unreserved, and ':'), and not "." or "..". Anything else from a client
// (a model naming an Azure deployment) is refused rather than encoded: no real name needs it.
bool is_safe_path_segment(std::string_view s) noexcept;

struct target {
  std::string name;
  bool tls = false;
  std::string host;         // for DNS, SNI and certificate verification (no brackets)
  std::string port;         // service, e.g. "443"
  std::string host_header;  // Host sent upstream: host, plus :port when not the scheme's default
  std::string base_path;    // e.g. "/v1"; never ends with '/'
  // The credential header sent upstream (secret): "Authorization: Bearer <key>" for OpenAI,
  // "api-key: <key>" for Azure; empty name for none.
  std::string credential_name;
  std::string credential_value;
  config::schema schema = config::schema::openai;
  const providers::adapter* adapter = nullptr;  // the schema's (providers::adapter_for)
  std::string api_version;                      // azure_openai
  std::vector<std::pair<std::string, std::string>> deployments;  // azure_openai
  std::uint32_t max_tokens = 4096;  // anthropic, bedrock: sent when the client gives none
  std::string region;               // bedrock: the signature's
  aws_credentials aws;              // bedrock: the signing keys (secret)

  // The Azure deployment serving `model` (the model itself when not mapped).
  std::string_view deployment_for(std::string_view model) const;
  duration connect_timeout{};
  duration first_byte_timeout{};
  duration idle_timeout{};
  std::shared_ptr<boost::asio::ssl::context> tls_context;
  // In rotation or not (breaker, back-off): shared by every worker, and kept by a reload
  // that keeps the backend's name and URL.
  std::shared_ptr<backend_health> health;
  // What the worker-wide state of the backend (connection pool, counters) is indexed by:
  // stable across reloads while the backend is unchanged, never reused by another one.
  std::size_t slot = 0;

  // Throws config::config_error when the TLS context cannot be set up (e.g. a bad ca_file).
  static target compile(const config::backend& backend, const std::string& path);
};

}  // namespace aigw::upstream
