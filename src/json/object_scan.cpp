#include "aigw/json/object_scan.hpp"

#include <algorithm>
#include <optional>

#include <simdjson.h>

#include "aigw/core/object_tag.hpp"
#include "aigw/json/model_extractor.hpp"
#include "ondemand_util.hpp"

namespace aigw::json {
namespace {

namespace od = simdjson::ondemand;
using quotes = std::pair<std::size_t, std::size_t>;

constexpr int kMaxDepth = 128;

bool contains(std::span<const std::string_view> set, std::string_view s) {
  return std::find(set.begin(), set.end(), s) != set.end();
}

class scanner {
 public:
  scanner(const char* base, std::span<const std::string_view> types, std::vector<quotes>& found)
      : base_(base), types_(types), found_(found) {}

  // `key`: the field the value is in (an array's elements inherit it). An object in a
  // reference field ("conversation": {...}) is a stored object whatever its "object" says.
  simdjson::error_code walk(od::value value, int depth, std::string_view key) {
    if (depth > kMaxDepth) return simdjson::DEPTH_ERROR;
    od::json_type type;
    if (auto e = value.type().get(type)) return e;
    switch (type) {
      case od::json_type::array: {
        od::array array;
        if (auto e = value.get_array().get(array)) return e;
        for (auto element : array) {
          od::value v;
          if (auto e = element.get(v)) return e;
          if (auto e = walk(v, depth + 1, key)) return e;
        }
        return simdjson::SUCCESS;
      }
      case od::json_type::string:
        if (is_object_reference_key(key)) {
          auto token = string_token(value, base_);
          std::string_view s;
          if (auto e = value.get_string().get(s)) return e;
          if (!s.empty()) found_.push_back(token);
        }
        return simdjson::SUCCESS;
      case od::json_type::object:
        break;
      default:
        return simdjson::SUCCESS;  // skipped unread
    }
    od::object object;
    if (auto e = value.get_object().get(object)) return e;
    std::optional<quotes> id;
    bool stored = is_object_reference_key(key);
    for (auto field : object) {
      std::string_view inner;
      if (auto e = field.unescaped_key().get(inner)) return e;
      od::value v;
      if (auto e = field.value().get(v)) return e;
      od::json_type t;
      if (auto e = v.type().get(t)) return e;
      if (t == od::json_type::string && (inner == "id" || inner == "object")) {
        auto token = string_token(v, base_);
        std::string_view s;
        if (auto e = v.get_string().get(s)) return e;
        if (inner == "object")
          stored = stored || contains(types_, s);
        else if (!s.empty())
          id = token;
        continue;
      }
      if (auto e = walk(v, depth + 1, inner)) return e;
    }
    if (id && stored) found_.push_back(*id);
    return simdjson::SUCCESS;
  }

 private:
  const char* base_;
  std::span<const std::string_view> types_;
  std::vector<quotes>& found_;
};

}  // namespace

bool find_object_ids(const std::string& json, std::span<const std::string_view> stored_types,
                     std::vector<quotes>& found) {
  thread_local od::parser parser;  // per worker thread: keeps its buffers
  found.clear();
  if (json.capacity() < json.size() + parse_padding) return false;
  od::document doc;
  if (parser.iterate(simdjson::padded_string_view(json.data(), json.size(), json.capacity()))
          .get(doc))
    return false;
  od::value root;
  if (doc.get_value().get(root)) return false;
  scanner s(json.data(), stored_types, found);
  if (s.walk(root, 0, {}) != simdjson::SUCCESS) {
    found.clear();
    return false;
  }
  std::sort(found.begin(), found.end());
  return true;
}

}  // namespace aigw::json
