#pragma once
// The response stage of object affinity (object_ids.hpp): tags the ids of stored objects in
// what a backend answers, so that a later request naming one goes back to that backend.
// JSON bodies are held whole (up to a bound) and rewritten at their end; SSE streams (the
// Responses API's events carry the response's id) line by line, each `data:` JSON as soon as
// its line is complete. Nothing else changes: each tag is inserted before an id's closing
// quote, every other byte is relayed as it came. A body that is not JSON, an error status,
// or an encoded (compressed) body is declined and relayed untouched.
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aigw/proxy/object_ids.hpp"
#include "aigw/proxy/response_stage.hpp"

namespace aigw::proxy {

// Whether the responses of a `method` request to `rest` (the path after /v1) may hold stored
// objects: everything but the stateless inference paths, file contents and Realtime; a new
// chat completion only when stored.
bool returns_stored_objects(std::string_view rest, std::string_view method,
                            bool stored_chat_completion) noexcept;

class object_id_stage final : public response_stage {
 public:
  // Before each attempt: the ids to mint with, the backend the attempt goes to, and the
  // client the objects belong to (when object_ids::scoped).
  void prepare(const object_ids& ids, std::size_t backend, std::string_view owner = {}) noexcept {
    ids_ = &ids;
    backend_ = backend;
    owner_ = owner;
  }

  void on_head(const boost::beast::http::response_header<>& head) override;
  void on_data(std::string_view bytes) override;
  void on_end(bool complete) override;
  std::string* output() override { return mode_ == mode::off ? nullptr : &out_; }

  // The largest JSON body (or SSE line) held for rewriting; a larger one is relayed as it
  // is. Stored objects and their list pages are far smaller. Past kKeptCapacity, buffers
  // are given back when the next response starts.
  static constexpr std::size_t kMaxHeld = 1u << 20;
  static constexpr std::size_t kKeptCapacity = 256u << 10;

 private:
  enum class mode { off, json, sse, passthrough };
  void take_lines();
  // Appends `json` to out_ with its stored objects' ids tagged (unchanged if not JSON).
  void rewrite(std::string_view json);

  const object_ids* ids_ = nullptr;
  std::size_t backend_ = 0;
  std::string_view owner_;  // the client's name, in the config snapshot of the request
  mode mode_ = mode::off;
  std::string held_;         // a JSON body, or the incomplete last line of a stream
  std::size_t scanned_ = 0;  // held_ bytes already searched for a line end
  std::string out_;          // what the relay sends
  std::string scratch_;      // a data line's JSON, with the scanner's padding
  std::vector<std::pair<std::size_t, std::size_t>> found_;
};

}  // namespace aigw::proxy
