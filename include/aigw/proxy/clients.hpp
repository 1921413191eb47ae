#pragma once
// Who calls, and how much they may: the config's clients (config::client) compiled into a
// table found by the SHA-256 of the key a request presents, and each client's budgets
// (requests per minute, tokens per minute and per day) counted in fixed windows that every
// worker shares. A reload keeps a client's counts while its name and limits stay.
//
// A request is admitted by reserving its estimate (one request; its tokens: max_tokens or
// the client's default for the output, its body's bytes / 4 for the input) in every window,
// all or none; when it ends, the real usage replaces the estimate (or the estimate stays,
// when the backend reported none).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/beast/http/fields.hpp>

#include "aigw/config/config.hpp"

namespace aigw::proxy {

// One fixed window's count, shared by every worker: a single 64-bit atomic holding the
// window's number (high 25 bits: minutes or days since 2025, enough until 2088) and the count
// in it (low 39 bits), so that a check and an add are one compare-and-swap, and a new window
// starts from zero without a lock. Counts saturate at kMaxCount.
class window_counter {
 public:
  static constexpr std::uint64_t kMaxCount = (std::uint64_t(1) << 39) - 1;

  // Adds `n` in window `window` when the count stays within `limit`; returns whether it did,
  // and the count after (or as it is, when refused) in `count`. `window` becomes the window
  // counted in (a later one, when another worker's clock had moved on).
  bool try_add(std::uint32_t& window, std::uint64_t n, std::uint64_t limit,
               std::uint64_t& count) noexcept;
  // Adds `delta` (a correction, which may be negative; the count stays within 0 and the
  // maximum) in window `window`.
  void adjust(std::uint32_t window, std::int64_t delta) noexcept;
  std::uint64_t count(std::uint32_t window) const noexcept;

 private:
  std::atomic<std::uint64_t> state_{0};
};

// A client's counters.
struct client_usage {
  window_counter requests_minute;
  window_counter tokens_minute;
  window_counter tokens_day;
};

// The budget windows a moment falls in: the UTC minute and day, numbered from 2025-01-01
// (25 bits of minutes last until 2088), and the time left in each.
struct budget_windows {
  std::uint32_t minute = 0, day = 0;
  std::chrono::seconds to_minute_end{0}, to_day_end{0};
  static budget_windows at(std::chrono::system_clock::time_point now) noexcept;
};

// What admission decided.
struct client_admission {
  bool admitted = true;
  bool shared = false;       // counted in Redis (proxy::client_budgets), not in memory
  bool unavailable = false;  // refused because Redis could not answer (fail_closed)
  // When refused: which limit ("requests" or "tokens"), its value, what is left of it, and
  // when its window ends.
  std::string_view limit;
  std::string_view window;  // "minute" or "day"
  bool never_fits = false;  // the request's estimate alone is over the limit
  std::uint64_t limit_value = 0;
  std::uint64_t remaining = 0;
  std::chrono::seconds reset{0};
  // When admitted: the tokens reserved, and the windows they went to (for the charge).
  std::uint64_t reserved_tokens = 0;
  std::uint32_t request_minute = 0, token_minute = 0, token_day = 0;

  // A refusal by `limit` ("requests" or "tokens") per `window` ("minute" or "day"): its
  // value, the count in the window, when the window ends, and what the request asked for.
  static client_admission refused(std::string_view limit, std::string_view window,
                                  std::uint64_t value, std::uint64_t count,
                                  std::chrono::seconds reset, std::uint64_t asked) noexcept;
};

class client_table {
 public:
  struct entry {
    config::client config;
    std::shared_ptr<client_usage> usage;
  };

  // A reload (`previous`) keeps the counts of a client whose name and limits are unchanged.
  static client_table compile(const std::vector<config::client>& clients,
                              const client_table* previous);

  // The key a request presents: Authorization: Bearer <key>, else x-api-key, else api-key;
  // empty for none.
  static std::string_view presented_key(const boost::beast::http::fields& headers) noexcept;
  // The client whose key this is, or nullptr.
  const entry* find(std::string_view key) const;
  bool empty() const noexcept { return entries_.empty(); }

  // Whether `model` is one the client may use.
  static bool allows(const entry& client, std::string_view model) noexcept;
  // Reserves a request's estimate against the client's budgets (all windows or none).
  static client_admission admit(const entry& client, std::uint64_t input_estimate,
                                std::uint64_t output_estimate,
                                std::chrono::system_clock::time_point now);
  // After the request: its real token counts replace the reservation.
  static void charge(const entry& client, const client_admission& admitted, std::uint64_t input,
                     std::uint64_t output);
  // The tokens of a request as the client's budget counts them.
  static std::uint64_t counted(const entry& client, std::uint64_t input,
                               std::uint64_t output) noexcept;

 private:
  std::vector<entry> entries_;
  std::unordered_map<std::string, std::size_t> by_key_hash_;  // SHA-256 hex -> entry
};

}  // namespace aigw::proxy
