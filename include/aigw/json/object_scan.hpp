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

// The opening and closing quotes of each id string to tag in `json`, in order: the "id" of
// every object whose "object" is one of `stored_types` ("response", "file", ...) or that is
// the value of a reference field, and the ids in reference fields
// (core/object_tag.hpp: "previous_response_id", "file_ids", ...). Returns false (and finds
// nothing) when `json` is not valid JSON. `json` must have parse_padding spare capacity
// (model_extractor.hpp).
bool find_object_ids(const std::string& json, std::span<const std::string_view> stored_types,
                     std::vector<std::pair<std::size_t, std::size_t>>& found);

}  // namespace aigw::json
