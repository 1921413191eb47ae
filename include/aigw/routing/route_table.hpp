#pragma once
// The compiled route table. Routes are tried in the order written, first match wins; the
// last route is always the default, so every request has a backend.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <atomic>

#include <boost/beast/http/fields.hpp>
#include <boost/container/small_vector.hpp>

#include "aigw/config/config.hpp"

namespace re2 {
class RE2;
}

namespace aigw::routing {

// What a route can look at.
struct request_view {
  std::string_view model;  // empty when the request names none
  const boost::beast::http::fields& headers;
};

struct route_result {
  std::uint32_t route_index;    // position in the config's routes
  std::uint32_t target_index;   // position in that route's targets
  std::uint32_t backend_index;  // position in the config's backends
};

// A request's targets in the order it tries them.
using target_order = boost::container::small_vector<route_result, 4>;

class route_table {
 public:
  explicit route_table(const config::gateway& config);

  // The position of the first route that matches (the default when no other does).
  std::uint32_t match_route(const request_view& request) const noexcept;
  // The first route that matches, and the target its next request goes to when every target
  // is in rotation.
  route_result match(const request_view& request) const noexcept {
    target_order order;
    order_targets(
        match_route(request), [](std::uint32_t) { return true; }, order);
    return order.front();
  }
  // The targets of route `route_index` that are in rotation (`in_rotation(backend_index)`),
  // in the order a request tries them: priority levels from the lowest; in a level, the
  // target whose turn it is by smooth weighted round robin (its weights share the requests
  // exactly, over every sum-of-weights requests), then the level's others by weight. Only
  // the first level with a target in rotation takes a turn: the others are fallbacks.
  template <class InRotation>
  void order_targets(std::uint32_t route_index, InRotation&& in_rotation, target_order& out) const {
    const auto& r = routes_[route_index];
    bool turn_taken = false;
    for (const auto& level : r.levels) {
      auto first_out = out.size();
      for (auto t : level.by_weight)
        if (in_rotation(r.targets[t].backend_index))
          out.push_back({route_index, t, r.targets[t].backend_index});
      // One target (or none with a weight) has no turns to take: no shared counter touched.
      if (out.size() - first_out < 2 || level.schedule.size() < 2) continue;
      auto turn = turn_taken ? level.turn->load(std::memory_order_relaxed)
                             : level.turn->fetch_add(1, std::memory_order_relaxed);
      turn_taken = true;
      // The first target in rotation at or after this turn in the schedule goes first.
      auto begin = out.begin() + static_cast<std::ptrdiff_t>(first_out);
      for (std::size_t k = 0; k < level.schedule.size(); ++k) {
        auto pick = level.schedule[(turn + k) % level.schedule.size()];
        auto it = std::find_if(begin, out.end(),
                               [&](const route_result& c) { return c.target_index == pick; });
        if (it == out.end()) continue;
        std::rotate(begin, it, it + 1);
        break;
      }
    }
  }
  // The model to send upstream for a request that matched: empty when the chosen target has
  // no model_override (send the client's as is), else the override with its `*` filled in.
  std::string upstream_model(const route_result& matched, std::string_view client_model) const;
  // The matched route's target on backend `backend`, if it has one (a stored object's
  // backend keeps the route's model override for it).
  std::optional<route_result> target_on(const route_result& matched, std::size_t backend) const;
  // Every exact model name the routes mention, in route order, without duplicates, with the
  // backend each routes to. Globs are never listed: they name no model.
  struct served_model {
    std::string id;
    std::uint32_t backend_index;
  };
  const std::vector<served_model>& exact_models() const noexcept { return exact_models_; }
  std::size_t size() const noexcept { return routes_.size(); }

 private:
  struct compiled_header {
    std::string name;
    std::string value;
    std::shared_ptr<const re2::RE2> regex;  // set: match the value against it
  };
  struct compiled_route {
    std::string model;  // empty: any
    bool model_is_glob = false;
    std::shared_ptr<const re2::RE2> model_regex;  // set: the model must match it
    std::vector<compiled_header> headers;
    struct target {
      std::uint32_t backend_index;
      std::uint32_t weight;
      std::string model_override;
    };
    std::vector<target> targets;
    // The targets of one priority, ascending: their positions by weight (heaviest first),
    // the smooth weighted round-robin sequence of positions, and whose turn is next (shared
    // by every worker: one relaxed increment per request).
    struct level {
      std::uint32_t priority;
      std::vector<std::uint32_t> by_weight;
      std::vector<std::uint32_t> schedule;
      std::shared_ptr<std::atomic<std::uint64_t>> turn;
    };
    std::vector<level> levels;
  };
  bool matches(const compiled_route& r, const request_view& request) const noexcept;

  // Transparent hashing, so a request's string_view model needs no std::string to look up.
  struct string_hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };

  std::vector<compiled_route> routes_;
  // Route indices, ascending, of routes on one exact model name...
  std::unordered_map<std::string, std::vector<std::uint32_t>, string_hash, std::equal_to<>>
      by_exact_model_;
  // ...and of all other routes (globs, header-only, the default). A request's candidates are
  // its model's exact routes merged with these, in route order: first match still wins, and
  // 10,000 exact-model routes cost one hash lookup instead of 10,000 comparisons.
  std::vector<std::uint32_t> other_routes_;
  std::vector<served_model> exact_models_;
};

}  // namespace aigw::routing
