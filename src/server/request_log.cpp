#include "request_log.hpp"

#include <algorithm>
#include <iterator>
#include <random>

#include <fmt/format.h>

namespace aigw::server {
namespace {

using clock = request_log::clock;

double ms_between(clock::time_point start, clock::time_point end) {
  return std::chrono::duration<double, std::milli>(end - start).count();
}

// A client-chosen value for a text line: no spaces, quotes or control bytes, at most 128 bytes.
std::string_view text_safe(std::string_view value, std::string& scratch) {
  if (value.empty()) return "-";
  bool clean = value.size() <= 128 && std::all_of(value.begin(), value.end(), [](char c) {
                 return c > ' ' && c != '"' && c != 0x7f;
               });
  if (clean) return value;
  scratch.assign(value.substr(0, 128));
  for (auto& c : scratch)
    if (c <= ' ' || c == '"' || c == 0x7f) c = '?';
  return scratch;
}

// A JSON string of at most 128 bytes of `value`: quotes, backslashes and control bytes
// escaped, and any byte that is not part of valid UTF-8 replaced by '?', so the line is
// always valid JSON.
void append_json_string(std::string& out, std::string_view value) {
  value = value.substr(0, 128);
  out.push_back('"');
  for (std::size_t i = 0; i < value.size();) {
    auto c = static_cast<unsigned char>(value[i]);
    if (c < 0x80) {
      if (c == '"' || c == '\\') {
        out.push_back('\\');
        out.push_back(static_cast<char>(c));
      } else if (c < 0x20 || c == 0x7f) {
        fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
      } else {
        out.push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    // A multi-byte sequence: its length from the lead byte, then continuation bytes.
    std::size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 0;
    bool valid = n > 0 && i + n <= value.size();
    for (std::size_t k = 1; valid && k < n; ++k)
      valid = (static_cast<unsigned char>(value[i + k]) & 0xc0) == 0x80;
    if (valid) {
      out.append(value.substr(i, n));
      i += n;
    } else {
      out.push_back('?');
      ++i;
    }
  }
  out.push_back('"');
}

// RFC 3339, UTC, milliseconds.
void append_time(std::string& out) {
  auto now = std::chrono::system_clock::now();
  auto seconds = std::chrono::floor<std::chrono::seconds>(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - seconds).count();
  auto t = std::chrono::system_clock::to_time_t(seconds);
  std::tm utc{};
  gmtime_r(&t, &utc);
  fmt::format_to(std::back_inserter(out), "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                 utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                 utc.tm_sec, ms);
}

}  // namespace

void format_access_line(const request_log& r, bool json, std::string& out) {
  out.clear();
  auto end = clock::now();
  auto ttfb = r.first_byte == clock::time_point{} ? 0.0 : ms_between(r.start, r.first_byte);
  auto o = std::back_inserter(out);
  if (!json) {
    std::string method_scratch, path_scratch, model_scratch;
    fmt::format_to(o,
                   "access method={} path={} model={} route={} backend={} status={} bytes={} "
                   "ttfb_ms={:.2f} duration_ms={:.2f} complete={}",
                   text_safe(r.method, method_scratch), text_safe(r.path, path_scratch),
                   text_safe(r.model, model_scratch), r.route, r.backend, r.status, r.bytes, ttfb,
                   ms_between(r.start, end), r.complete);
    if (!r.complete) fmt::format_to(o, " ended_by={}", r.ended_by);
    if (r.attempts > 1) fmt::format_to(o, " attempts={}", r.attempts);
    if (r.error_event) out.append(" error_event=true");
    if (r.resumes) fmt::format_to(o, " resumes={}", r.resumes);
    if (!r.client.empty()) fmt::format_to(o, " client={}", r.client);  // a config name
    return;
  }
  out.append(R"({"time":")");
  append_time(out);
  out.append(R"(","request_id":)");
  append_json_string(out, r.request_id);
  out.append(R"(,"method":)");
  append_json_string(out, r.method);
  out.append(R"(,"path":)");
  append_json_string(out, r.path);
  out.append(R"(,"model":)");
  append_json_string(out, r.model);
  fmt::format_to(o, R"(,"route":{},"backend":)", r.route);
  append_json_string(out, r.backend);
  if (!r.client.empty()) {
    out.append(R"(,"client":)");
    append_json_string(out, r.client);
  }
  fmt::format_to(o, R"(,"status":{},"bytes_in":{},"bytes_out":{})", r.status, r.bytes_in, r.bytes);
  if (r.counts_usage && r.usage_found)
    fmt::format_to(o, R"(,"input_tokens":{},"output_tokens":{},"cached_tokens":{})", r.input_tokens,
                   r.output_tokens, r.cached_tokens);
  else if (r.counts_usage)
    out.append(R"(,"usage_missing":true)");
  fmt::format_to(o, R"(,"ttfb_ms":{:.2f},"duration_ms":{:.2f},"complete":{})", ttfb,
                 ms_between(r.start, end), r.complete);
  if (!r.complete) {
    out.append(R"(,"ended_by":)");
    append_json_string(out, r.ended_by);
  }
  if (r.attempts > 1) fmt::format_to(o, R"(,"attempts":{})", r.attempts);
  if (r.error_event) out.append(R"(,"error_event":true)");
  if (r.resumes) fmt::format_to(o, R"(,"resumes":{})", r.resumes);
  if (!r.error.empty()) {
    out.append(R"(,"error":)");
    append_json_string(out, r.error);
  }
  if (!r.upstream_request_id.empty()) {
    out.append(R"(,"upstream_request_id":)");
    append_json_string(out, r.upstream_request_id);
  }
  out.push_back('}');
}

bool is_sane_request_id(std::string_view id) noexcept {
  return !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
  });
}

std::string new_request_id() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  return fmt::format("{:016x}{:016x}", random(), random());
}

}  // namespace aigw::server
