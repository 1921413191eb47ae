#include <doctest/doctest.h>

#include "aigw/metrics/worker_stats.hpp"

using aigw::metrics::kNoBackend;
using aigw::metrics::worker_stats;

TEST_CASE("requests count by route and backend, local answers and 499s in their own places") {
  worker_stats a(2, 3);
  a.record_request(0, 1, 200);
  a.record_request(1, 2, 502);
  a.record_request(-1, kNoBackend, 404);
  a.record_request(0, 1, 499);
  CHECK(a.requests_by_route[0].by_class[2] == 1);
  CHECK(a.requests_by_route[0].by_class[0] == 1);  // the client left: no status class
  CHECK(a.requests_by_route[1].by_class[5] == 1);
  CHECK(a.requests_by_route[2].by_class[4] == 1);  // answered locally
  CHECK(a.requests_by_backend[1].total() == 2);
  CHECK(a.requests_by_backend[3].by_class[4] == 1);  // no backend
  a.record_local_error(aigw::errc::not_found);

  worker_stats b(2, 3);
  b.record_request(0, 1, 201);
  b.upstream_connects[1] = 4;
  b.active_streams = 2;
  b.record_local_error(aigw::errc::not_found);
  a.merge(b);
  CHECK(a.requests_by_route[0].by_class[2] == 2);
  CHECK(a.upstream_connects[1] == 4);
  CHECK(a.active_streams == 2);
  CHECK(a.local_errors[static_cast<std::size_t>(aigw::errc::not_found)] == 2);
}
