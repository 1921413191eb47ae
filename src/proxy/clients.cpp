#include "aigw/proxy/clients.hpp"

#include <algorithm>

#include <boost/beast/core/string.hpp>

#include "aigw/routing/glob.hpp"
#include "aigw/upstream/sigv4.hpp"

namespace aigw::proxy {
namespace {

constexpr int kCountBits = 39;
constexpr std::uint64_t kCountMask = (std::uint64_t(1) << kCountBits) - 1;

std::uint64_t pack(std::uint32_t window, std::uint64_t count) {
  return (std::uint64_t(window) << kCountBits) | std::min(count, kCountMask);
}
std::uint32_t window_of(std::uint64_t state) {
  return static_cast<std::uint32_t>(state >> kCountBits);
}
std::uint64_t count_in(std::uint64_t state, std::uint32_t window) {
  return window_of(state) == window ? state & kCountMask : 0;  // a new window starts at 0
}

}  // namespace

bool window_counter::try_add(std::uint32_t& window, std::uint64_t n, std::uint64_t limit,
                             std::uint64_t& count) noexcept {
  auto state = state_.load(std::memory_order_relaxed);
  for (;;) {
    // A window older than the stored one (a worker whose clock read came first) counts in
    // the stored one.
    auto current = std::max(window, window_of(state));
    auto now = count_in(state, current);
    if (n > limit || now > limit - n) {  // (no sum that could wrap)
      count = now;
      return false;
    }
    if (state_.compare_exchange_weak(state, pack(current, now + n), std::memory_order_relaxed)) {
      window = current;
      count = now + n;
      return true;
    }
  }
}

void window_counter::adjust(std::uint32_t window, std::int64_t delta) noexcept {
  auto state = state_.load(std::memory_order_relaxed);
  for (;;) {
    // A correction for a window that has ended is dropped: the new one owes nothing.
    if (window_of(state) != window) return;
    auto now = static_cast<std::int64_t>(state & kCountMask);
    auto next = static_cast<std::uint64_t>(std::max<std::int64_t>(0, now + delta));
    if (state_.compare_exchange_weak(state, pack(window, next), std::memory_order_relaxed)) return;
  }
}

std::uint64_t window_counter::count(std::uint32_t window) const noexcept {
  return count_in(state_.load(std::memory_order_relaxed), window);
}

client_table client_table::compile(const std::vector<config::client>& clients,
                                   const client_table* previous) {
  client_table table;
  for (const auto& c : clients) {
    entry e{c, nullptr};
    if (previous)
      for (const auto& old : previous->entries_)
        if (old.config.name == c.name && old.config.limits == c.limits) e.usage = old.usage;
    if (!e.usage) e.usage = std::make_shared<client_usage>();
    table.by_key_hash_.emplace(c.key_sha256, table.entries_.size());
    table.entries_.push_back(std::move(e));
  }
  return table;
}

std::string_view client_table::presented_key(const boost::beast::http::fields& headers) noexcept {
  auto authorization = headers[boost::beast::http::field::authorization];
  if (authorization.size() > 7 && boost::beast::iequals(authorization.substr(0, 7), "Bearer "))
    return {authorization.data() + 7, authorization.size() - 7};
  for (auto name : {"x-api-key", "api-key"}) {
    auto value = headers[name];
    if (!value.empty()) return {value.data(), value.size()};
  }
  return {};
}

const client_table::entry* client_table::find(std::string_view key) const {
  if (key.empty() || key.size() > 1024) return nullptr;
  auto it = by_key_hash_.find(upstream::sha256_hex(key));
  return it == by_key_hash_.end() ? nullptr : &entries_[it->second];
}

bool client_table::allows(const entry& client, std::string_view model) noexcept {
  if (client.config.models.empty()) return true;
  return std::any_of(client.config.models.begin(), client.config.models.end(),
                     [&](const std::string& glob) { return routing::glob_match(glob, model); });
}

std::uint64_t client_table::counted(const entry& client, std::uint64_t input,
                                    std::uint64_t output) noexcept {
  // Any count a client can name (max_tokens) is capped: no sum wraps.
  input = std::min(input, window_counter::kMaxCount);
  output = std::min(output, window_counter::kMaxCount);
  using kind = config::client::budget::kind;
  switch (client.config.limits.tokens) {
    case kind::input:
      return input;
    case kind::output:
      return output;
    case kind::total:
      break;
  }
  return input + output;
}

budget_windows budget_windows::at(std::chrono::system_clock::time_point now) noexcept {
  using namespace std::chrono;
  constexpr std::int64_t kEpoch = 1735689600;  // 2025-01-01T00:00:00Z
  auto since_epoch =
      std::max<std::int64_t>(0, duration_cast<seconds>(now.time_since_epoch()).count() - kEpoch);
  budget_windows w;
  w.minute = static_cast<std::uint32_t>(since_epoch / 60);
  w.day = static_cast<std::uint32_t>(since_epoch / 86400);
  w.to_minute_end = seconds(60 - since_epoch % 60);
  w.to_day_end = seconds(86400 - since_epoch % 86400);
  return w;
}

client_admission client_admission::refused(std::string_view limit, std::string_view window,
                                           std::uint64_t value, std::uint64_t count,
                                           std::chrono::seconds reset,
                                           std::uint64_t asked) noexcept {
  client_admission a;
  a.admitted = false;
  a.limit = limit;
  a.window = window;
  a.limit_value = value;
  a.remaining = value > count ? value - count : 0;
  a.reset = reset;
  a.never_fits = asked > value;
  return a;
}

client_admission client_table::admit(const entry& client, std::uint64_t input_estimate,
                                     std::uint64_t output_estimate,
                                     std::chrono::system_clock::time_point now) {
  const auto& limits = client.config.limits;
  auto& usage = *client.usage;
  auto windows = budget_windows::at(now);
  client_admission a;
  a.request_minute = a.token_minute = windows.minute;
  a.token_day = windows.day;
  auto tokens = counted(client, input_estimate, output_estimate);
  std::uint64_t count = 0;
  if (limits.requests_per_minute &&
      !usage.requests_minute.try_add(a.request_minute, 1, limits.requests_per_minute, count))
    return client_admission::refused("requests", "minute", limits.requests_per_minute, count,
                                     windows.to_minute_end, 1);
  if (limits.tokens_per_minute &&
      !usage.tokens_minute.try_add(a.token_minute, tokens, limits.tokens_per_minute, count)) {
    if (limits.requests_per_minute) usage.requests_minute.adjust(a.request_minute, -1);
    return client_admission::refused("tokens", "minute", limits.tokens_per_minute, count,
                                     windows.to_minute_end, tokens);
  }
  if (limits.tokens_per_day &&
      !usage.tokens_day.try_add(a.token_day, tokens, limits.tokens_per_day, count)) {
    if (limits.requests_per_minute) usage.requests_minute.adjust(a.request_minute, -1);
    if (limits.tokens_per_minute)
      usage.tokens_minute.adjust(a.token_minute, -static_cast<std::int64_t>(tokens));
    return client_admission::refused("tokens", "day", limits.tokens_per_day, count,
                                     windows.to_day_end, tokens);
  }
  a.reserved_tokens = tokens;
  return a;
}

void client_table::charge(const entry& client, const client_admission& admitted,
                          std::uint64_t input, std::uint64_t output) {
  auto delta = static_cast<std::int64_t>(counted(client, input, output)) -
               static_cast<std::int64_t>(admitted.reserved_tokens);
  if (delta == 0) return;
  const auto& limits = client.config.limits;
  if (limits.tokens_per_minute) client.usage->tokens_minute.adjust(admitted.token_minute, delta);
  if (limits.tokens_per_day) client.usage->tokens_day.adjust(admitted.token_day, delta);
}

}  // namespace aigw::proxy
