#pragma once
// Where a worker counts its clients' budgets. Without `redis:`, in the process's memory
// (client_table's counters, shared by its workers, no lock). With it, in Redis, so that every
// replica counts against one budget: admission is one Lua script that checks every window
// of the client and adds the estimate to all of them or none, atomically; the charge at the
// end puts the real usage in place of the estimate. The keys of a client share a hash tag
// ({name}), so a script touches one slot of a Redis Cluster, and expire a minute after their
// window ends.
//
// Charges are aggregated locally: the corrections of a worker's requests are summed by key
// and sent together every `charge_interval` (20 ms by default), one command per key, so that
// Redis sees one round trip per request (the admission), however many requests end. A
// correction is at most that much late; one still waiting when the worker stops is lost
// (the reservation stands in its place).
//
// When Redis cannot answer in time (down, slow, an error reply), `on_redis_error` decides:
// fail_open admits by this replica's own counters (so a client is still held to its budget
// per replica), fail_closed refuses with a 503. Either way it is counted and logged.
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include <boost/asio/steady_timer.hpp>

#include "aigw/config/config.hpp"
#include "aigw/core/asio.hpp"
#include "aigw/core/log.hpp"
#include "aigw/metrics/worker_stats.hpp"
#include "aigw/proxy/clients.hpp"

namespace aigw::proxy {

class redis_connection;

class client_budgets {
 public:
  client_budgets(net::io_context& io, metrics::worker_stats& stats);
  ~client_budgets();
  client_budgets(const client_budgets&) = delete;
  client_budgets& operator=(const client_budgets&) = delete;

  // At start and at each reload, on the worker's thread: connects to Redis (again, when the
  // settings changed), or stops using it.
  void configure(const config::redis_settings& settings);

  // Reserves a request's estimate in each of the client's windows, all or none.
  awaitable<client_admission> admit(const client_table::entry& client, std::uint64_t input_estimate,
                                    std::uint64_t output_estimate);
  // After the request: its real token counts replace the reservation, where it was made.
  void charge(const client_table::entry& client, const client_admission& admitted,
              std::uint64_t input, std::uint64_t output);

  // The scripts (their text, for tests and for operators reading the keys).
  static const std::string& admit_script();
  static const std::string& adjust_script();

 private:
  // The admission on_redis_error makes when the Redis of `settings` could not answer.
  client_admission without_redis(const config::redis_settings& settings,
                                 const client_table::entry& client, std::uint64_t input,
                                 std::uint64_t output, std::string_view why);
  void send_charges();

  net::io_context& io_;
  metrics::worker_stats& stats_;
  std::shared_ptr<redis_connection> redis_;
  // Corrections not yet sent, by key (proxy::client_budgets: aggregated charges).
  std::unordered_map<std::string, std::int64_t> charges_;
  net::steady_timer charge_timer_;
  bool charge_timer_armed_ = false;
  log::rate_limited_warning failing_{std::chrono::seconds(10)};
};

}  // namespace aigw::proxy
