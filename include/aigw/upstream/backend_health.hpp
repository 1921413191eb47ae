#pragma once
// Whether a backend is in rotation: its circuit breaker and its 429 back-off, shared by every
// worker (one per backend, alive as long as any config snapshot names that backend).
//
// The hot path reads one word: `admit()` is one relaxed load while the backend is healthy.
// Only a backend out of rotation costs more (a clock read, and a compare-and-swap for the one
// request that gets to probe it). Outcomes are reported with `succeeded()` and `failed()`;
// a healthy backend's success costs one relaxed load too (plus two relaxed increments when a
// failure rate is configured).
//
// States: closed (in rotation) -> open after `consecutive_failures` failures in a row, or a
// `failure_rate` over a `window` of at least `min_requests` -> after `cooldown`, half-open:
// the first request lets through is the probe, every other one skips the backend -> the
// probe's success closes it, its failure opens it for another cooldown. A probe that never
// reports (its client left) does not wedge it: after another cooldown, another probe goes.
// A request sent to a backend out of rotation anyway (every target of its route is out:
// see session's plan) reports as a probe.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http/fields.hpp>

#include "aigw/config/config.hpp"

namespace aigw::upstream {

class backend_health {
 public:
  using clock = std::chrono::steady_clock;
  enum class state : std::uint8_t { closed, open, half_open };
  enum class admission : std::uint8_t {
    refused,  // out of rotation: skip it, no connection attempt
    normal,
    probe,  // the one request that decides whether a half-open breaker closes
  };

  backend_health(std::string name, const config::circuit_breaker& settings)
      : name_(std::move(name)), settings_(settings) {}
  backend_health(const backend_health&) = delete;
  backend_health& operator=(const backend_health&) = delete;

  // Whether a request may go to the backend now.
  admission admit(clock::time_point now = {}) noexcept {
    auto until = not_before_.load(std::memory_order_relaxed);
    if (until == 0) return admission::normal;
    return admit_slow(until, now);
  }
  // Whether it is in rotation, without taking the probe (the plan's filter). The clock is
  // read only for a backend out of rotation.
  bool in_rotation(clock::time_point now = {}) const noexcept {
    auto until = not_before_.load(std::memory_order_relaxed);
    if (until == 0) return true;
    return ticks(now == clock::time_point{} ? clock::now() : now) >= until;
  }
  // When the first backend out of rotation comes back (for Retry-After); now when it is in.
  clock::time_point back_at() const noexcept;

  // What became of a request that was admitted.
  void succeeded(admission how, clock::time_point now) noexcept;
  void failed(admission how, clock::time_point now) noexcept;
  // A 429: out of rotation for `how_long` (not a breaker failure: the backend is working).
  void back_off(clock::duration how_long, clock::time_point now) noexcept;

  state current_state() const noexcept { return state_.load(std::memory_order_relaxed); }
  const std::string& name() const noexcept { return name_; }
  // Transitions so far, for the metrics: [0] opened, [1] half-opened, [2] closed again.
  std::uint64_t transitions(state to) const noexcept {
    return transitions_[static_cast<std::size_t>(to)].load(std::memory_order_relaxed);
  }
  std::uint64_t backoffs() const noexcept { return backoffs_.load(std::memory_order_relaxed); }

  // Clock ticks as stored (never 0 for a real time: 0 means "in rotation").
  static std::int64_t ticks(clock::time_point t) noexcept {
    return std::max<std::int64_t>(1, t.time_since_epoch().count());
  }

 private:
  admission admit_slow(std::int64_t until, clock::time_point now) noexcept;
  void open(clock::time_point now, std::string_view why) noexcept;
  void count_in_window(bool failure, clock::time_point now) noexcept;
  void extend_not_before(std::int64_t until) noexcept;

  std::string name_;
  config::circuit_breaker settings_;
  // 0: in rotation; else the clock tick before which the backend is skipped (an open
  // breaker's cooldown, a 429's back-off, or a probe's time to answer).
  std::atomic<std::int64_t> not_before_{0};
  std::atomic<state> state_{state::closed};
  std::atomic<std::uint32_t> consecutive_failures_{0};
  std::atomic<std::int64_t> window_start_{0};
  std::atomic<std::uint32_t> window_requests_{0};
  std::atomic<std::uint32_t> window_failures_{0};
  std::atomic<std::uint64_t> transitions_[3]{};
  std::atomic<std::uint64_t> backoffs_{0};
};

// How long a 429 asks the backend to be left alone: Retry-After (seconds or an HTTP date),
// else the longer of OpenAI's x-ratelimit-reset-requests / -tokens ("1s", "6m0s", "20ms"),
// else nullopt (the caller's default). At most an hour: a backend cannot take itself out for
// longer than that with one answer.
std::optional<std::chrono::milliseconds> backoff_from(
    const boost::beast::http::fields& head,
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

// A Go-style duration as OpenAI's rate-limit headers write it ("1m30.5s", "250ms"), or nullopt.
std::optional<std::chrono::milliseconds> parse_go_duration(std::string_view text);

}  // namespace aigw::upstream
