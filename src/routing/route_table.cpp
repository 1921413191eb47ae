#include "aigw/routing/route_table.hpp"

#include <algorithm>

#include <re2/re2.h>

#include "aigw/routing/glob.hpp"

namespace aigw::routing {

route_table::route_table(const config::gateway& config) {
  auto backend_index = [&](const std::string& name) {
    auto it = std::find_if(config.backends.begin(), config.backends.end(),
                           [&](const config::backend& b) { return b.name == name; });
    return static_cast<std::uint32_t>(it - config.backends.begin());
  };
  for (const auto& r : config.routes) {
    compiled_route c;
    if (r.model && r.model_regex) {
      c.model_regex = std::make_shared<const re2::RE2>(*r.model, re2::RE2::Quiet);
    } else if (r.model) {
      c.model = *r.model;
      c.model_is_glob = is_glob(c.model);
    }
    for (const auto& h : r.headers)
      c.headers.push_back(
          {h.name, h.value,
           h.regex ? std::make_shared<const re2::RE2>(h.value, re2::RE2::Quiet) : nullptr});
    for (const auto& t : r.targets) {
      c.targets.push_back({backend_index(t.backend), t.weight, t.model_override});
      c.total_weight += t.weight;
    }
    if (!c.model.empty() && !c.model_is_glob &&
        std::none_of(exact_models_.begin(), exact_models_.end(),
                     [&](const served_model& m) { return m.id == c.model; }))
      exact_models_.push_back({c.model, c.targets.front().backend_index});
    auto index = static_cast<std::uint32_t>(routes_.size());
    if (!c.model.empty() && !c.model_is_glob)
      by_exact_model_[c.model].push_back(index);
    else
      other_routes_.push_back(index);
    routes_.push_back(std::move(c));
  }
}

bool route_table::matches(const compiled_route& r, const request_view& request) const noexcept {
  if (r.model_regex &&
      !re2::RE2::FullMatch(re2::StringPiece(request.model.data(), request.model.size()),
                           *r.model_regex))
    return false;
  if (!r.model.empty()) {
    bool ok = r.model_is_glob ? glob_match(r.model, request.model) : r.model == request.model;
    if (!ok) return false;
  }
  return std::all_of(r.headers.begin(), r.headers.end(), [&](const compiled_header& h) {
    auto it = request.headers.find(h.name);
    if (it == request.headers.end()) return false;
    auto value = it->value();
    return h.regex ? re2::RE2::FullMatch(re2::StringPiece(value.data(), value.size()), *h.regex)
                   : value == h.value;
  });
}

std::string route_table::upstream_model(const route_result& matched,
                                        std::string_view client_model) const {
  const auto& r = routes_[matched.route_index];
  const auto& model_override = r.targets[matched.target_index].model_override;
  auto star = model_override.find('*');
  if (star == std::string::npos) return model_override;
  // What the route's own `*` matched: the client model between the glob's prefix and suffix
  // (a glob with one `*`), else the whole client model.
  std::string_view captured = client_model;
  if (auto glob_star = r.model.find('*');
      r.model_is_glob && glob_star != std::string::npos &&
      r.model.find_first_of("*?", glob_star + 1) == std::string::npos) {
    auto suffix = r.model.size() - glob_star - 1;
    captured = client_model.substr(glob_star, client_model.size() - glob_star - suffix);
  }
  std::string out = model_override;
  out.replace(star, 1, captured);
  return out;
}

std::optional<route_result> route_table::target_on(const route_result& matched,
                                                   std::size_t backend) const {
  const auto& targets = routes_[matched.route_index].targets;
  for (std::uint32_t i = 0; i < targets.size(); ++i)
    if (targets[i].backend_index == backend)
      return route_result{matched.route_index, i, targets[i].backend_index};
  return std::nullopt;
}

route_result route_table::match(const request_view& request) const noexcept {
  static const std::vector<std::uint32_t> kNone;
  auto exact = by_exact_model_.find(request.model);
  const auto& exact_routes = exact == by_exact_model_.end() ? kNone : exact->second;
  auto e = exact_routes.begin();
  auto o = other_routes_.begin();
  while (e != exact_routes.end() || o != other_routes_.end()) {
    bool take_exact = o == other_routes_.end() || (e != exact_routes.end() && *e < *o);
    std::uint32_t index = take_exact ? *e++ : *o++;
    if (matches(routes_[index], request)) return choose(index);
  }
  // Unreachable with a validated config (the last route matches everything); stay total.
  return choose(static_cast<std::uint32_t>(routes_.size() - 1));
}

route_result route_table::choose(std::uint32_t route_index) const noexcept {
  const auto& targets = routes_[route_index].targets;
  std::uint32_t pick = 0;
  if (targets.size() > 1) {
    // A per-thread xorshift: a weighted draw per request, no lock, no allocation.
    thread_local std::uint64_t state =
        0x9e3779b97f4a7c15ull ^ reinterpret_cast<std::uintptr_t>(&state);
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    auto ticket = state % routes_[route_index].total_weight;
    while (ticket >= targets[pick].weight) ticket -= targets[pick++].weight;
  }
  return {route_index, pick, targets[pick].backend_index};
}

}  // namespace aigw::routing
