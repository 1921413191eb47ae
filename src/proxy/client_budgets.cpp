#include "aigw/proxy/client_budgets.hpp"

#include <openssl/evp.h>

#include <array>

#include <fmt/format.h>
#include <boost/asio/use_awaitable.hpp>
#include <boost/container/small_vector.hpp>

#include "aigw/proxy/redis_connection.hpp"

namespace aigw::proxy {
namespace {

// KEYS: the client's windows. ARGV: for each, the amount to add, the limit, and the seconds
// the key lives (its window's end, and a minute for replicas whose clocks differ). Returns
// {0, 0} when every window had room and took the amount, else {i, count}: the first window
// without room (1-based) and its count, untouched. Counts are exact in Lua's doubles (they
// stay under 2^39).
const std::string kAdmitScript = R"lua(
for i = 1, #KEYS do
  local amount, limit = tonumber(ARGV[3 * i - 2]), tonumber(ARGV[3 * i - 1])
  local count = tonumber(redis.call('GET', KEYS[i]) or 0)
  if amount > limit or count > limit - amount then return {i, count} end
end
for i = 1, #KEYS do
  local amount = tonumber(ARGV[3 * i - 2])
  if redis.call('INCRBY', KEYS[i], amount) == amount then
    redis.call('EXPIRE', KEYS[i], ARGV[3 * i])
  end
end
return {0, 0}
)lua";

// KEYS: token windows; ARGV[1]: the correction (the real count less the reservation). A
// window that has ended (its key expired) owes nothing; no count goes below zero.
const std::string kAdjustScript = R"lua(
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    local count = redis.call('INCRBY', KEYS[i], ARGV[1])
    if count < 0 then redis.call('INCRBY', KEYS[i], -count) end
  end
end
return 0
)lua";

std::string sha1_hex(const std::string& text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha1(), nullptr);
  std::string hex;
  for (unsigned i = 0; i < size; ++i) fmt::format_to(std::back_inserter(hex), "{:02x}", digest[i]);
  return hex;
}

const std::string& admit_sha() {
  static const std::string sha = sha1_hex(kAdmitScript);
  return sha;
}
const std::string& adjust_sha() {
  static const std::string sha = sha1_hex(kAdjustScript);
  return sha;
}

// A window of a client's budget, as the admit script counts it.
struct counted_window {
  std::string_view limit, window;  // as client_admission names them
  std::uint64_t value = 0, amount = 0;
  std::chrono::seconds reset{0};
  std::string key;
};

// `{prefix}:{name}:{kind}:{window number}`: the client's name in braces is the hash tag.
std::string window_key(const config::redis_settings& settings, const client_table::entry& client,
                       std::string_view kind, std::uint32_t window) {
  return fmt::format("{}:{{{}}}:{}:{}", settings.key_prefix, client.config.name, kind, window);
}

constexpr std::chrono::seconds kKeySlack{60};

}  // namespace

const std::string& client_budgets::admit_script() {
  return kAdmitScript;
}
const std::string& client_budgets::adjust_script() {
  return kAdjustScript;
}

client_budgets::client_budgets(net::io_context& io, metrics::worker_stats& stats)
    : io_(io), stats_(stats), charge_timer_(io) {}

client_budgets::~client_budgets() {
  charge_timer_.cancel();
  if (redis_) redis_->stop();
}

void client_budgets::configure(const config::redis_settings& settings) {
  if (redis_ && settings.enabled() && redis_->settings() == settings) return;
  charges_.clear();  // (for the Redis that was: one not yet connected would fail them)
  if (redis_) redis_->stop();
  redis_.reset();
  if (!settings.enabled()) return;
  std::vector<std::vector<std::string>> hello;
  if (!settings.password.empty()) {
    if (settings.username.empty())
      hello.push_back({"AUTH", settings.password});
    else
      hello.push_back({"AUTH", settings.username, settings.password});
  }
  if (settings.database != 0) hello.push_back({"SELECT", std::to_string(settings.database)});
  hello.push_back({"SCRIPT", "LOAD", kAdmitScript});
  hello.push_back({"SCRIPT", "LOAD", kAdjustScript});
  redis_ = redis_connection::create(io_, settings, std::move(hello), stats_.redis);
  redis_->start();
}

awaitable<client_admission> client_budgets::admit(const client_table::entry& client,
                                                  std::uint64_t input_estimate,
                                                  std::uint64_t output_estimate) {
  auto now = std::chrono::system_clock::now();
  const auto& limits = client.config.limits;
  if (!redis_ || !(limits.requests_per_minute || limits.tokens_per_minute || limits.tokens_per_day))
    co_return client_table::admit(client, input_estimate, output_estimate, now);

  auto redis = redis_;  // kept across the wait, whatever a reload does meanwhile
  const auto& settings = redis->settings();
  auto windows = budget_windows::at(now);
  auto tokens = client_table::counted(client, input_estimate, output_estimate);
  boost::container::small_vector<counted_window, 3> counted;
  if (limits.requests_per_minute)
    counted.push_back({"requests", "minute", limits.requests_per_minute, 1, windows.to_minute_end,
                       window_key(settings, client, "rpm", windows.minute)});
  if (limits.tokens_per_minute)
    counted.push_back({"tokens", "minute", limits.tokens_per_minute, tokens, windows.to_minute_end,
                       window_key(settings, client, "tpm", windows.minute)});
  if (limits.tokens_per_day)
    counted.push_back({"tokens", "day", limits.tokens_per_day, tokens, windows.to_day_end,
                       window_key(settings, client, "tpd", windows.day)});

  // EVALSHA sha n key... (amount limit ttl)...
  std::array<std::string, 9> numbers;
  boost::container::small_vector<std::string_view, 16> args{"EVALSHA", admit_sha()};
  auto key_count = std::to_string(counted.size());
  args.push_back(key_count);
  for (const auto& w : counted) args.push_back(w.key);
  for (std::size_t i = 0; i < counted.size(); ++i) {
    const auto& w = counted[i];
    numbers[3 * i] = std::to_string(w.amount);
    numbers[3 * i + 1] = std::to_string(w.value);
    numbers[3 * i + 2] = std::to_string((w.reset + kKeySlack).count());
    for (std::size_t k = 0; k < 3; ++k) args.push_back(numbers[3 * i + k]);
  }
  redis_connection::command command(args.data(), args.size());
  auto reply = co_await redis->async_command(command, net::use_awaitable);
  if (reply.kind == redis_reply::type::error && reply.text.starts_with("NOSCRIPT")) {
    // Redis lost its scripts (SCRIPT FLUSH, a fail-over to a fresh replica): loaded again,
    // ahead of the same command once more on the same pipeline.
    redis->send(std::array<std::string_view, 3>{"SCRIPT", "LOAD", kAdmitScript});
    redis->send(std::array<std::string_view, 3>{"SCRIPT", "LOAD", kAdjustScript});
    reply = co_await redis->async_command(command, net::use_awaitable);
  }

  bool answered = reply.kind == redis_reply::type::array && reply.integer_count == 2 &&
                  reply.integers[0] >= 0 &&
                  static_cast<std::size_t>(reply.integers[0]) <= counted.size();
  if (!answered) {
    co_return without_redis(
        settings, client, input_estimate, output_estimate,
        reply.kind == redis_reply::type::failed || reply.kind == redis_reply::type::error
            ? std::string_view(reply.text)
            : std::string_view("an unexpected reply"));
  }
  if (auto refused_at = reply.integers[0]; refused_at > 0) {
    const auto& w = counted[static_cast<std::size_t>(refused_at - 1)];
    auto count = static_cast<std::uint64_t>(std::max<std::int64_t>(0, reply.integers[1]));
    co_return client_admission::refused(w.limit, w.window, w.value, count, w.reset, w.amount);
  }
  client_admission a;
  a.shared = true;
  a.request_minute = a.token_minute = windows.minute;
  a.token_day = windows.day;
  a.reserved_tokens = tokens;
  co_return a;
}

client_admission client_budgets::without_redis(const config::redis_settings& settings,
                                               const client_table::entry& client,
                                               std::uint64_t input, std::uint64_t output,
                                               std::string_view why) {
  failing_.warn("redis: a budget could not be checked ({}); on_redis_error: {}", why,
                settings.fail_open ? "fail_open" : "fail_closed");
  if (settings.fail_open) {
    ++stats_.redis.fail_open;
    return client_table::admit(client, input, output, std::chrono::system_clock::now());
  }
  ++stats_.redis.fail_closed;
  client_admission a;
  a.admitted = false;
  a.unavailable = true;
  return a;
}

void client_budgets::charge(const client_table::entry& client, const client_admission& admitted,
                            std::uint64_t input, std::uint64_t output) {
  if (!admitted.shared) return client_table::charge(client, admitted, input, output);
  auto delta = static_cast<std::int64_t>(client_table::counted(client, input, output)) -
               static_cast<std::int64_t>(admitted.reserved_tokens);
  const auto& limits = client.config.limits;
  if (delta == 0 || !redis_) return;
  const auto& settings = redis_->settings();
  if (limits.tokens_per_minute)
    charges_[window_key(settings, client, "tpm", admitted.token_minute)] += delta;
  if (limits.tokens_per_day)
    charges_[window_key(settings, client, "tpd", admitted.token_day)] += delta;
  if (charges_.empty()) return;
  if (settings.charge_interval.count() == 0) return send_charges();
  if (charge_timer_armed_) return;
  charge_timer_armed_ = true;
  charge_timer_.expires_after(settings.charge_interval);
  charge_timer_.async_wait([this](error_code ec) {
    charge_timer_armed_ = false;
    if (!ec) send_charges();
  });
}

void client_budgets::send_charges() {
  for (auto& [key, delta] : charges_) {
    if (delta == 0 || !redis_) continue;
    auto correction = std::to_string(delta);
    std::array<std::string_view, 5> args{"EVALSHA", adjust_sha(), "1", key, correction};
    redis_->send(args);
  }
  charges_.clear();
}

}  // namespace aigw::proxy
