#pragma once
// One client connection: reads requests one after another (keep-alive), answers what the
// gateway answers itself, forwards the rest. Every bad input gets an OpenAI-shaped error; a
// request whose framing cannot be trusted also closes the connection.
#include <memory>

#include "aigw/core/asio.hpp"
#include "aigw/core/deadline.hpp"
#include "aigw/metrics/worker_stats.hpp"
#include "aigw/proxy/client_budgets.hpp"
#include "aigw/proxy/snapshot.hpp"
#include "aigw/server/process_budget.hpp"
#include "aigw/server/worker_sessions.hpp"
#include "aigw/upstream/connection_pool.hpp"

namespace aigw::server {

// What a session shares with the other sessions of its worker (and, for the budget, with
// every worker).
struct worker_resources {
  upstream::connection_pool& pool;
  deadline_sweeper& sweeper;
  process_budget& budget;
  metrics::worker_stats& stats;
  worker_sessions& sessions;
  proxy::client_budgets& client_budgets;
};

awaitable<void> run_session(tcp::socket socket, std::shared_ptr<const proxy::snapshot> config,
                            worker_resources resources);

}  // namespace aigw::server
