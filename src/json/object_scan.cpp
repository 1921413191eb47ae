#include "aigw/json/object_scan.hpp"

#include <algorithm>
#include <optional>

#include <simdjson.h>

#include "aigw/json/model_extractor.hpp"

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
  scanner(const char* base, const object_id_rules& rules, std::vector<quotes>& found)
      : base_(base), rules_(rules), found_(found) {}

  // `owned`: an object under a reference key, whose "id" is tagged whatever its type.
  simdjson::error_code walk(od::value value, int depth, bool owned) {
    if (depth > kMaxDepth) return simdjson::DEPTH_ERROR;
    od::json_type type;
    if (auto e = value.type().get(type)) return e;
    if (type == od::json_type::array) {
      od::array array;
      if (auto e = value.get_array().get(array)) return e;
      for (auto element : array) {
        od::value v;
        if (auto e = element.get(v)) return e;
        if (auto e = walk(v, depth + 1, false)) return e;
      }
      return simdjson::SUCCESS;
    }
    if (type != od::json_type::object) return simdjson::SUCCESS;  // skipped unread
    od::object object;
    if (auto e = value.get_object().get(object)) return e;
    std::optional<quotes> id;
    bool stored = owned;
    for (auto field : object) {
      std::string_view key;
      if (auto e = field.unescaped_key().get(key)) return e;
      od::value v;
      if (auto e = field.value().get(v)) return e;
      od::json_type t;
      if (auto e = v.type().get(t)) return e;
      bool reference = contains(rules_.reference_keys, key);
      if (t == od::json_type::string && (key == "id" || key == "object" || reference)) {
        auto token = string_token(v);
        std::string_view s;
        if (auto e = v.get_string().get(s)) return e;
        if (key == "object")
          stored = stored || contains(rules_.types, s);
        else if (!s.empty() && key == "id")
          id = token;
        else if (!s.empty())
          found_.push_back(token);
        continue;
      }
      if (auto e = walk(v, depth + 1, reference && t == od::json_type::object)) return e;
    }
    if (id && stored) found_.push_back(*id);
    return simdjson::SUCCESS;
  }

 private:
  quotes string_token(od::value& value) const {
    std::string_view raw = value.raw_json_token();  // runs on over whitespace: trim it
    while (!raw.empty() && raw.back() != '"') raw.remove_suffix(1);
    auto open = static_cast<std::size_t>(raw.data() - base_);
    return {open, open + raw.size() - 1};
  }

  const char* base_;
  const object_id_rules& rules_;
  std::vector<quotes>& found_;
};

}  // namespace

bool find_object_ids(const std::string& json, const object_id_rules& rules,
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
  scanner s(json.data(), rules, found);
  if (s.walk(root, 0, false) != simdjson::SUCCESS) {
    found.clear();
    return false;
  }
  std::sort(found.begin(), found.end());
  return true;
}

}  // namespace aigw::json
