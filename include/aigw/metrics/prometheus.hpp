#pragma once
// The Prometheus text exposition (format 0.0.4) of the gateway's merged counters.
#include <string>

#include "aigw/metrics/worker_stats.hpp"

namespace aigw::proxy {
struct snapshot;
}

namespace aigw::metrics {

// Every metric, with its HELP and TYPE lines. `stats` is every worker's, merged.
std::string render_prometheus(const worker_stats& stats, const proxy::snapshot& config);

}  // namespace aigw::metrics
