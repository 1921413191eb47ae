#include "aigw/upstream/backend_health.hpp"

#include <ctime>

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "aigw/core/log.hpp"

namespace aigw::upstream {
namespace {

constexpr auto kLongestBackoff = std::chrono::hours(1);

std::string_view view(boost::beast::string_view s) {
  return {s.data(), s.size()};
}

std::optional<std::chrono::milliseconds> capped(std::chrono::milliseconds d) {
  if (d.count() < 0) return std::chrono::milliseconds(0);
  return std::min<std::chrono::milliseconds>(d, kLongestBackoff);
}

// Retry-After: delay-seconds or an HTTP date (RFC 9110 10.2.3).
std::optional<std::chrono::milliseconds> parse_retry_after(
    std::string_view text, std::chrono::system_clock::time_point now) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  std::uint64_t seconds = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (ec == std::errc{} && end == text.data() + text.size())
    return capped(std::chrono::milliseconds(std::min<std::uint64_t>(seconds, 86400) * 1000));
  std::tm tm{};
  std::string copy(text);
  const char* parsed = strptime(copy.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!parsed || *parsed != '\0') return std::nullopt;
  auto at = std::chrono::system_clock::from_time_t(timegm(&tm));
  return capped(std::chrono::duration_cast<std::chrono::milliseconds>(at - now));
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_go_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  double total_ms = 0;
  while (!text.empty()) {
    // A number (digits, an optional fraction), then its unit.
    std::size_t i = 0;
    while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
    if (i == 0) return std::nullopt;
    double value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + i, value);
    if (ec != std::errc{} || end != text.data() + i) return std::nullopt;
    text.remove_prefix(i);
    double unit_ms = 0;
    if (text.starts_with("ms")) {
      unit_ms = 1, text.remove_prefix(2);
    } else if (text.starts_with("us") || text.starts_with("µs")) {
      unit_ms = 0.001, text.remove_prefix(text.starts_with("us") ? 2 : 3);
    } else if (text.starts_with("ns")) {
      unit_ms = 1e-6, text.remove_prefix(2);
    } else if (text.starts_with("h")) {
      unit_ms = 3'600'000, text.remove_prefix(1);
    } else if (text.starts_with("m")) {
      unit_ms = 60'000, text.remove_prefix(1);
    } else if (text.starts_with("s")) {
      unit_ms = 1000, text.remove_prefix(1);
    } else {
      return std::nullopt;
    }
    total_ms += value * unit_ms;
    if (total_ms > 86'400'000.0) total_ms = 86'400'000.0;
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(total_ms + 0.999));
}

std::optional<std::chrono::milliseconds> backoff_from(const boost::beast::http::fields& head,
                                                      std::chrono::system_clock::time_point now) {
  // retry-after-ms (what the OpenAI SDKs read first), then Retry-After.
  if (auto it = head.find("retry-after-ms"); it != head.end()) {
    std::uint64_t ms = 0;
    auto v = view(it->value());
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), ms);
    if (ec == std::errc{} && end == v.data() + v.size())
      return capped(std::chrono::milliseconds(std::min<std::uint64_t>(ms, 86'400'000)));
  }
  if (auto it = head.find(boost::beast::http::field::retry_after); it != head.end())
    if (auto d = parse_retry_after(view(it->value()), now)) return d;
  std::optional<std::chrono::milliseconds> longest;
  for (auto name : {"x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"})
    if (auto it = head.find(name); it != head.end())
      if (auto d = parse_go_duration(view(it->value())); d && (!longest || *d > *longest))
        longest = d;
  if (longest) return capped(*longest);
  return std::nullopt;
}

backend_health::clock::time_point backend_health::back_at() const noexcept {
  auto until = not_before_.load(std::memory_order_relaxed);
  return clock::time_point(clock::duration(until));
}

backend_health::admission backend_health::admit_slow(std::int64_t until,
                                                     clock::time_point now) noexcept {
  if (now == clock::time_point{}) now = clock::now();
  if (ticks(now) < until) return admission::refused;
  auto st = state_.load(std::memory_order_relaxed);
  if (st == state::closed) {  // a 429's back-off is over
    not_before_.compare_exchange_strong(until, 0, std::memory_order_relaxed);
    return admission::normal;
  }
  // An open breaker's cooldown is over (or a half-open probe never answered): the request
  // that moves the time on is the probe; the others skip the backend meanwhile.
  auto probe_deadline = ticks(now + settings_.cooldown);
  if (!not_before_.compare_exchange_strong(until, probe_deadline, std::memory_order_relaxed))
    return admission::refused;
  if (st == state::open) {
    state_.store(state::half_open, std::memory_order_relaxed);
    transitions_[static_cast<std::size_t>(state::half_open)].fetch_add(1,
                                                                       std::memory_order_relaxed);
    log::info("circuit breaker: backend \"{}\" half-open, one request probes it", name_);
  }
  return admission::probe;
}

void backend_health::succeeded(admission how, clock::time_point now) noexcept {
  if (how == admission::probe && state_.load(std::memory_order_relaxed) != state::closed) {
    if (state_.exchange(state::closed, std::memory_order_relaxed) == state::closed) return;
    not_before_.store(0, std::memory_order_relaxed);
    consecutive_failures_.store(0, std::memory_order_relaxed);
    window_start_.store(0, std::memory_order_relaxed);
    transitions_[static_cast<std::size_t>(state::closed)].fetch_add(1, std::memory_order_relaxed);
    log::info("circuit breaker: backend \"{}\" closed (a probe succeeded)", name_);
    return;
  }
  if (consecutive_failures_.load(std::memory_order_relaxed) != 0)
    consecutive_failures_.store(0, std::memory_order_relaxed);
  count_in_window(false, now);
}

void backend_health::failed(admission how, clock::time_point now) noexcept {
  if (!settings_.enabled) return;
  if (how == admission::probe && state_.load(std::memory_order_relaxed) != state::closed) {
    open(now, "a probe failed");
    return;
  }
  if (state_.load(std::memory_order_relaxed) != state::closed) return;  // open already
  auto in_a_row = consecutive_failures_.fetch_add(1, std::memory_order_relaxed) + 1;
  count_in_window(true, now);
  if (in_a_row >= settings_.consecutive_failures) {
    open(now, fmt::format("{} failure{} in a row", in_a_row, in_a_row == 1 ? "" : "s"));
    return;
  }
  if (settings_.failure_rate > 0) {
    auto requests = window_requests_.load(std::memory_order_relaxed);
    auto failures = window_failures_.load(std::memory_order_relaxed);
    if (requests >= settings_.min_requests &&
        static_cast<double>(failures) >= settings_.failure_rate * static_cast<double>(requests))
      open(now, fmt::format("{} of {} requests failed", failures, requests));
  }
}

void backend_health::back_off(clock::duration how_long, clock::time_point now) noexcept {
  backoffs_.fetch_add(1, std::memory_order_relaxed);
  extend_not_before(ticks(now + how_long));
}

void backend_health::open(clock::time_point now, std::string_view why) noexcept {
  not_before_.store(ticks(now + settings_.cooldown), std::memory_order_relaxed);
  if (state_.exchange(state::open, std::memory_order_relaxed) == state::open) return;
  consecutive_failures_.store(0, std::memory_order_relaxed);
  window_start_.store(0, std::memory_order_relaxed);
  transitions_[static_cast<std::size_t>(state::open)].fetch_add(1, std::memory_order_relaxed);
  log::warn("circuit breaker: backend \"{}\" open for {} ms ({})", name_,
            settings_.cooldown.count(), why);
}

void backend_health::count_in_window(bool failure, clock::time_point now) noexcept {
  if (!settings_.enabled || settings_.failure_rate <= 0) return;
  auto t = ticks(now);
  auto start = window_start_.load(std::memory_order_relaxed);
  auto window = std::chrono::duration_cast<clock::duration>(settings_.window).count();
  if (start == 0 || t - start > window) {
    // A new window; whoever moves the start resets the counts (approximate at the edge).
    if (window_start_.compare_exchange_strong(start, t, std::memory_order_relaxed)) {
      window_requests_.store(0, std::memory_order_relaxed);
      window_failures_.store(0, std::memory_order_relaxed);
    }
  }
  window_requests_.fetch_add(1, std::memory_order_relaxed);
  if (failure) window_failures_.fetch_add(1, std::memory_order_relaxed);
}

void backend_health::extend_not_before(std::int64_t until) noexcept {
  auto current = not_before_.load(std::memory_order_relaxed);
  while (current < until &&
         !not_before_.compare_exchange_weak(current, until, std::memory_order_relaxed)) {
  }
}

}  // namespace aigw::upstream
