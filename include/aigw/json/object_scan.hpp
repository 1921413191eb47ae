#pragma once
// Finds, in a JSON response, the ids of stored objects (for object affinity: the gateway tags
// them with the backend that holds the object). Read in place with simdjson On-Demand.
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aigw::json {

struct object_id_rules {
  // The "object" values whose "id" names a stored object: "response", "file", ...
  std::span<const std::string_view> types;
  // Keys whose string value is such an id ("previous_response_id", "input_file_id", ...),
  // or whose object value is such an object whatever its "object" says ("conversation").
  std::span<const std::string_view> reference_keys;
};

// The opening and closing quotes of each id string to tag in `json`, in order. Returns false
// (and finds nothing) when `json` is not a JSON object or array. `json` must have
// parse_padding spare capacity (model_extractor.hpp).
bool find_object_ids(const std::string& json, const object_id_rules& rules,
                     std::vector<std::pair<std::size_t, std::size_t>>& found);

}  // namespace aigw::json
