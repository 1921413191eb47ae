#include "aigw/routing/route_table.hpp"

#include <algorithm>
#include <map>
#include <numeric>

#include <re2/re2.h>

#include "aigw/routing/glob.hpp"

namespace aigw::routing {
namespace {

// Smooth weighted round robin (nginx's): each step every target gains its weight, the one
// with the most goes and loses the total. Weights sharing a factor are divided by it, and a
// sum over 1,000 is scaled down to 1,000 (the sequence is precomputed, so it stays small).
std::vector<std::uint32_t> smooth_schedule(const std::vector<std::uint32_t>& positions,
                                           const std::vector<std::uint64_t>& weights) {
  std::uint64_t total = 0, divisor = 0;
  for (auto w : weights) total += w, divisor = std::gcd(divisor, w);
  if (total == 0) return {};
  std::vector<std::int64_t> scaled;
  constexpr std::uint64_t kLongest = 1000;
  for (auto w : weights) {
    auto s = total / divisor > kLongest
                 ? (w == 0 ? 0 : std::max<std::uint64_t>(1, w * kLongest / total))
                 : w / divisor;
    scaled.push_back(static_cast<std::int64_t>(s));
  }
  auto sum = std::accumulate(scaled.begin(), scaled.end(), std::int64_t{0});
  std::vector<std::int64_t> current(scaled.size(), 0);
  std::vector<std::uint32_t> out;
  out.reserve(static_cast<std::size_t>(sum));
  for (std::int64_t step = 0; step < sum; ++step) {
    std::size_t best = 0;
    for (std::size_t i = 0; i < scaled.size(); ++i) {
      current[i] += scaled[i];
      if (current[i] > current[best]) best = i;
    }
    current[best] -= sum;
    out.push_back(positions[best]);
  }
  return out;
}

}  // namespace

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
    std::map<std::uint32_t, std::vector<std::uint32_t>> by_priority;
    for (const auto& t : r.targets) {
      by_priority[t.priority].push_back(static_cast<std::uint32_t>(c.targets.size()));
      c.targets.push_back({backend_index(t.backend), t.weight, t.model_override});
    }
    for (auto& [priority, positions] : by_priority) {
      compiled_route::level level{
          priority, positions, {}, std::make_shared<std::atomic<std::uint64_t>>(0)};
      std::stable_sort(level.by_weight.begin(), level.by_weight.end(),
                       [&](std::uint32_t a, std::uint32_t b) {
                         return c.targets[a].weight > c.targets[b].weight;
                       });
      std::vector<std::uint64_t> weights;
      for (auto p : positions) weights.push_back(c.targets[p].weight);
      level.schedule = smooth_schedule(positions, weights);
      c.levels.push_back(std::move(level));
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

std::uint32_t route_table::match_route(const request_view& request) const noexcept {
  static const std::vector<std::uint32_t> kNone;
  auto exact = by_exact_model_.find(request.model);
  const auto& exact_routes = exact == by_exact_model_.end() ? kNone : exact->second;
  auto e = exact_routes.begin();
  auto o = other_routes_.begin();
  while (e != exact_routes.end() || o != other_routes_.end()) {
    bool take_exact = o == other_routes_.end() || (e != exact_routes.end() && *e < *o);
    std::uint32_t index = take_exact ? *e++ : *o++;
    if (matches(routes_[index], request)) return index;
  }
  // Unreachable with a validated config (the last route matches everything); stay total.
  return static_cast<std::uint32_t>(routes_.size() - 1);
}

}  // namespace aigw::routing
