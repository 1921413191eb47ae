#include "aigw/providers/chunk_writer.hpp"

#include <ctime>

#include <fmt/format.h>

namespace aigw::providers {
namespace {

void append_number(std::string& out, std::uint64_t n) {
  fmt::format_to(std::back_inserter(out), "{}", n);
}

std::string_view or_empty(std::string_view token) {
  return token.size() >= 2 ? token : R"("")";
}

}  // namespace

void chunk_writer::reset() {
  started_ = false;
  id_.assign(R"("")");
  model_.assign(R"("")");
  created_ = static_cast<std::int64_t>(std::time(nullptr));
}

void chunk_writer::start(std::string_view id_token, std::string_view model_token) {
  started_ = true;
  id_.assign(or_empty(id_token));
  model_.assign(or_empty(model_token));
}

void chunk_writer::begin(std::string& out) const {
  out.append(R"(data: {"id":)").append(id_);
  out.append(R"(,"object":"chat.completion.chunk","created":)");
  append_number(out, static_cast<std::uint64_t>(created_));
  out.append(R"(,"model":)").append(model_).append(R"(,"choices":[{"index":0,"delta":{)");
}

void chunk_writer::end(std::string& out, std::string_view finish_reason) {
  out.append(R"(},"finish_reason":)");
  if (finish_reason.empty())
    out.append("null");
  else
    out.append("\"").append(finish_reason).append("\"");
  out.append("}]}\n\n");
}

void chunk_writer::role(std::string& out) const {
  begin(out);
  out.append(R"("role":"assistant","content":"")");
  end(out, {});
}

void chunk_writer::content(std::string& out, std::string_view token) const {
  begin(out);
  out.append(R"("content":)").append(token);
  end(out, {});
}

void chunk_writer::reasoning(std::string& out, std::string_view token) const {
  begin(out);
  out.append(R"("reasoning_content":)").append(token);
  end(out, {});
}

void chunk_writer::tool_start(std::string& out, unsigned index, std::string_view id_token,
                              std::string_view name_token) const {
  begin(out);
  out.append(R"("tool_calls":[{"index":)");
  append_number(out, index);
  out.append(R"(,"id":)").append(or_empty(id_token));
  out.append(R"(,"type":"function","function":{"name":)").append(or_empty(name_token));
  out.append(R"(,"arguments":""}}])");
  end(out, {});
}

void chunk_writer::tool_arguments(std::string& out, unsigned index, std::string_view token) const {
  begin(out);
  out.append(R"("tool_calls":[{"index":)");
  append_number(out, index);
  out.append(R"(,"function":{"arguments":)").append(token).append("}}]");
  end(out, {});
}

void chunk_writer::finish(std::string& out, std::string_view finish_reason) const {
  begin(out);
  end(out, finish_reason);
}

void chunk_writer::usage(std::string& out, const json::usage_reading& u) const {
  out.append(R"(data: {"id":)").append(id_);
  out.append(R"(,"object":"chat.completion.chunk","created":)");
  append_number(out, static_cast<std::uint64_t>(created_));
  out.append(R"(,"model":)").append(model_).append(R"(,"choices":[],"usage":{"prompt_tokens":)");
  append_number(out, u.input);
  out.append(R"(,"completion_tokens":)");
  append_number(out, u.output);
  out.append(R"(,"total_tokens":)");
  append_number(out, u.input + u.output);
  out.append(R"(,"prompt_tokens_details":{"cached_tokens":)");
  append_number(out, u.cached_input);
  out.append("}}}\n\n");
}

void chunk_writer::done(std::string& out) {
  out.append("data: [DONE]\n\n");
}

void chunk_writer::error(std::string& out, std::string_view message_token, std::string_view type) {
  out.append(R"(data: {"error":{"message":)").append(message_token);
  out.append(R"(,"type":")").append(type);
  out.append(R"(","param":null,"code":")").append(type).append("\"}}\n\n");
}

}  // namespace aigw::providers
