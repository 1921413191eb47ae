#pragma once
// Pieces the whole-document translations (providers/anthropic.cpp, bedrock.cpp) share, over
// Boost.JSON values.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/memory_resource.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/value.hpp>

#include "aigw/core/errc.hpp"

namespace aigw::providers::document {

// The working memory of one request translation: the client's body as a DOM, in an arena of
// mapped pages (given back to the OS when the translation ends, never left in the heap)
// that holds at most kMemoryFactor times the body, or kMemoryFloor for a small one. A DOM
// costs about 1.1 times a body of text or images, 2 to 4 times one of tool schemas; only a
// body made of tiny values comes near the bound, and it is refused (413) rather than held:
// without it, one 30 MiB body of tiny values took 700 MiB. Translations run one at a time
// per worker (no suspension inside), so the process holds at most one per worker.
class request_document {
 public:
  static constexpr std::size_t kMemoryFactor = 4;
  static constexpr std::size_t kMemoryFloor = 8u << 20;

  explicit request_document(std::string_view body);
  ~request_document();
  request_document(const request_document&) = delete;
  request_document& operator=(const request_document&) = delete;

  // "" when the body parsed into an object; else why not (too_large() among the reasons).
  const std::string& problem() const noexcept { return problem_; }
  const boost::json::object& object() const { return value_.as_object(); }

 private:
  // A bump allocator over mapped blocks (64 KiB, doubling up to 4 MiB: past the bound by at
  // most one block); refuses past the bound; unmaps everything when it goes.
  class arena final : public boost::json::memory_resource {
   public:
    explicit arena(std::size_t limit) noexcept : limit_(limit) {}
    ~arena() override;

   private:
    void* do_allocate(std::size_t n, std::size_t align) override;
    void do_deallocate(void*, std::size_t, std::size_t) override {}
    bool do_is_equal(const memory_resource& other) const noexcept override {
      return this == &other;
    }
    struct block {
      void* start;
      std::size_t size;
    };
    std::vector<block> blocks_;
    char* next_ = nullptr;
    std::size_t left_ = 0;
    std::size_t limit_;
    std::size_t mapped_ = 0;
  };

  std::size_t body_size_;
  arena arena_;
  boost::json::value value_;
  std::string problem_;
};

// A translated request, written into `out` (reserved for about the original's size, so that
// a large one is not copied as it grows).
void serialize_request(const boost::json::object& request, std::size_t size_hint, std::string& out);

// The detail a translation gives for a body over request_document's bound; the adapters
// answer it with errc::body_too_large, every other reason with errc::bad_request.
inline constexpr std::string_view kTooLargeToTranslate =
    "translating this body would take more memory than the gateway allows a request";
inline errc translation_error(std::string_view why) noexcept {
  return why.starts_with(kTooLargeToTranslate) ? errc::body_too_large : errc::bad_request;
}

// A string member's text; empty when absent or not a string.
inline std::string_view text_of(const boost::json::value* v) {
  return v && v->is_string() ? std::string_view(v->as_string()) : std::string_view();
}

// A count member as a whole number; 0 when absent, negative or not a number.
inline std::uint64_t count_of(const boost::json::value* v) {
  boost::system::error_code ec;
  auto n = v && v->is_number() ? v->to_number<std::uint64_t>(ec) : 0;
  return ec ? 0 : n;
}

// Appends a turn of `role` with `blocks`, merged into the last turn when it has the same
// role (Anthropic and Bedrock want user and assistant turns to alternate).
inline void add_turn(boost::json::array& messages, std::string_view role,
                     boost::json::array blocks) {
  if (blocks.empty()) return;
  if (!messages.empty() && text_of(messages.back().as_object().if_contains("role")) == role) {
    auto& content = messages.back().as_object()["content"].as_array();
    for (auto& b : blocks) content.push_back(std::move(b));
    return;
  }
  messages.push_back({{"role", role}, {"content", std::move(blocks)}});
}

// The parts of an OpenAI request both translations read the same way. Each returns "" on
// success, else why the request cannot be translated (a client error).

// A tool call of an assistant message: its id, its function's name, and its arguments
// parsed (a JSON object; none: {}).
std::string read_tool_call(const boost::json::value& call, std::string_view& id,
                           std::string_view& name, boost::json::value& input);
// max_completion_tokens, else max_tokens, into `out` (left as it is when neither is given).
std::string read_max_tokens(const boost::json::object& request, std::uint64_t& out);
// `stop` as a list of sequences; nullopt when absent.
std::optional<boost::json::value> stop_sequences(const boost::json::object& request);
// response_format as an instruction for the system prompt (for APIs without such a field);
// "" when there is none.
std::string format_instruction(const boost::json::object& request);

}  // namespace aigw::providers::document
