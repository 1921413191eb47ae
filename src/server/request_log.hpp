#pragma once
// What the access log says about one request, and its line in either format (JSON, the
// default, or key=value text). Values a client chose (method, path, model, request id) are
// cut to 128 bytes and made safe: escaped in JSON, with no spaces, quotes or control bytes in
// text, so no client can forge a line. Never a credential: nothing here is a header value
// but the request ids.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace aigw::server {

struct request_log {
  using clock = std::chrono::steady_clock;
  clock::time_point start = clock::now();
  std::string request_id;
  std::string_view method;
  std::string_view path;  // without the query
  std::string model;
  int route = -1;
  std::string_view backend = "-";
  std::string_view client;  // the calling client's name (with `clients:`), never its key
  unsigned status = 0;
  std::uint64_t bytes_in = 0;  // request body bytes
  std::uint64_t bytes = 0;     // body bytes sent to the client
  clock::time_point first_byte{};
  // Whether the whole response reached the client; if not, who ended it ("client" or
  // "upstream"), so that aborted and cut streams are told apart from finished ones.
  bool complete = true;
  std::string_view ended_by;
  std::string_view error;  // the gateway's error code, for a local error
  // Tries (backends sent the request; written when more than one: a failover), and whether
  // a cut event stream got the gateway's SSE error event.
  unsigned attempts = 0;
  bool error_event = false;
  unsigned resumes = 0;  // a broken stream went on at another backend (written when any)
  // Token usage, for the APIs that report it: the counts, or usage missing.
  bool counts_usage = false;
  bool usage_found = false;
  std::uint64_t input_tokens = 0, output_tokens = 0, cached_tokens = 0;
  std::string upstream_request_id;  // the backend's x-request-id, when it sent one
};

// One line (no newline) into `out`.
void format_access_line(const request_log& r, bool json, std::string& out);

// A client's x-request-id worth keeping: 1 to 128 of [A-Za-z0-9._:-].
bool is_sane_request_id(std::string_view id) noexcept;
// A new request id: 32 random hex digits.
std::string new_request_id();

}  // namespace aigw::server
