#include "document_util.hpp"

#include <malloc.h>
#include <sys/mman.h>

#include <algorithm>
#include <new>

#include <fmt/format.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/serializer.hpp>

namespace aigw::providers::document {

void* request_document::arena::do_allocate(std::size_t n, std::size_t align) {
  auto padding = [&] { return (align - reinterpret_cast<std::uintptr_t>(next_) % align) % align; };
  if (next_ && n + padding() <= left_) {
    auto pad = padding();
    void* p = next_ + pad;
    next_ += pad + n;
    left_ -= pad + n;
    return p;
  }
  std::size_t grown =
      blocks_.empty() ? (64u << 10) : std::min<std::size_t>(2 * blocks_.back().size, 4u << 20);
  std::size_t size = std::max(grown, n + align);
  if (size > limit_ - std::min(limit_, mapped_)) throw std::bad_alloc();
  void* start = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (start == MAP_FAILED) throw std::bad_alloc();
  blocks_.push_back({start, size});
  mapped_ += size;
  next_ = static_cast<char*>(start);
  left_ = size;
  return do_allocate(n, align);  // page-aligned: fits now
}

request_document::arena::~arena() {
  for (auto b : blocks_) ::munmap(b.start, b.size);
}

request_document::request_document(std::string_view body)
    : body_size_(body.size()),
      arena_(std::max(kMemoryFloor, kMemoryFactor * body.size())),
      value_(boost::json::storage_ptr(&arena_)) {  // (so that parse's result moves in)
  boost::system::error_code ec;
  try {
    value_ = boost::json::parse(body, ec, boost::json::storage_ptr(&arena_));  // not owned
  } catch (const std::bad_alloc&) {
    problem_ =
        fmt::format("{} ({} MiB for a body of {} KiB)", kTooLargeToTranslate,
                    std::max(kMemoryFloor, kMemoryFactor * body.size()) >> 20, body.size() >> 10);
    return;
  }
  if (ec || !value_.is_object()) problem_ = "the body is not a JSON object";
}

void serialize_request(const boost::json::object& request, std::size_t size_hint,
                       std::string& out) {
  boost::json::serializer writer;
  writer.reset(&request);
  out.clear();
  out.reserve(size_hint + size_hint / 8 + 4096);
  char buffer[16384];
  while (!writer.done()) out.append(writer.read(buffer));
}

request_document::~request_document() {
  // The translation's other values (the request it built) came from the heap, in pieces
  // too small for malloc to give back by itself: after a large body, they are.
  if (body_size_ > (1u << 20)) ::malloc_trim(0);
}

namespace json = boost::json;

std::string read_tool_call(const json::value& call, std::string_view& id, std::string_view& name,
                           json::value& input) {
  const auto* c = call.if_object();
  const auto* function = c ? c->if_contains("function") : nullptr;
  if (!function || !function->is_object()) return "a tool call needs a function";
  id = text_of(c->if_contains("id"));
  name = text_of(function->as_object().if_contains("name"));
  auto arguments = text_of(function->as_object().if_contains("arguments"));
  input = json::object();
  if (arguments.empty()) return {};
  boost::system::error_code ec;
  input = json::parse(arguments, ec);
  if (ec || !input.is_object()) return "a tool call's arguments must be a JSON object";
  return {};
}

std::string read_max_tokens(const json::object& request, std::uint64_t& out) {
  for (auto key : {"max_completion_tokens", "max_tokens"})
    if (const auto* v = request.if_contains(key); v && v->is_number()) {
      boost::system::error_code ec;
      auto n = v->to_number<std::uint64_t>(ec);
      if (ec || n == 0) return fmt::format("{} must be a positive whole number", key);
      out = n;
      return {};
    }
  return {};
}

std::optional<json::value> stop_sequences(const json::object& request) {
  const auto* stop = request.if_contains("stop");
  if (stop && stop->is_string()) return json::value(json::array{*stop});
  if (stop && stop->is_array()) return *stop;
  return std::nullopt;
}

std::string format_instruction(const json::object& request) {
  const auto* format = request.if_contains("response_format");
  if (!format || !format->is_object()) return {};
  auto type = text_of(format->as_object().if_contains("type"));
  if (type == "json_object") return "Respond with one JSON object and nothing else.";
  if (type != "json_schema") return {};
  const auto* schema = format->as_object().if_contains("json_schema");
  const auto* inner =
      schema && schema->is_object() ? schema->as_object().if_contains("schema") : nullptr;
  return fmt::format(
      "Respond with one JSON object that matches this JSON schema, and nothing else: {}",
      inner ? json::serialize(*inner) : std::string("{}"));
}

}  // namespace aigw::providers::document
