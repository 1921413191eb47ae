#pragma once
// The compiled route table. Routes are tried in the order written, first match wins; the
// last route is always the default, so every request has a backend.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/fields.hpp>

#include "aigw/config/config.hpp"

namespace aigw::routing {

// What a route can look at.
struct request_view {
  std::string_view model;  // empty when the request names none
  const boost::beast::http::fields& headers;
};

struct route_result {
  std::uint32_t route_index;    // position in the config's routes
  std::uint32_t backend_index;  // position in the config's backends
};

class route_table {
 public:
  explicit route_table(const config::gateway& config);

  route_result match(const request_view& request) const noexcept;
  // Every exact model name the routes mention, in route order, without duplicates, with the
  // backend each routes to. Globs are never listed: they name no model.
  struct served_model {
    std::string id;
    std::uint32_t backend_index;
  };
  const std::vector<served_model>& exact_models() const noexcept { return exact_models_; }

 private:
  struct compiled_route {
    std::string model;  // empty: any
    bool model_is_glob = false;
    std::vector<config::header_match> headers;
    std::uint32_t backend_index = 0;
  };
  std::vector<compiled_route> routes_;
  std::vector<served_model> exact_models_;
};

}  // namespace aigw::routing
