#pragma once
#include <cstddef>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/intrusive/list.hpp>

#include "aigw/core/asio.hpp"
#include "aigw/proxy/snapshot.hpp"

namespace aigw::server {

// A worker's sessions, for a graceful drain: once `draining`, every response says
// `Connection: close`, and a session waiting for its next request (nothing of it received)
// is woken up to close at once; the worker stops when `count` reaches 0.
struct worker_sessions {
  // A session between requests, linked into `waiting` while it waits (no allocation: the
  // node is the session's own, and it unlinks itself when destroyed).
  struct waiting_client : boost::intrusive::list_base_hook<
                              boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
    tcp::socket* socket = nullptr;
    const beast::flat_buffer* buffer = nullptr;
  };
  // The config new requests are served with (a reload replaces it).
  std::shared_ptr<const proxy::snapshot> config;
  bool draining = false;
  std::size_t count = 0;
  boost::intrusive::list<waiting_client, boost::intrusive::constant_time_size<false>> waiting;
  // Wakes every waiting session that has received nothing of a next request.
  void close_waiting();
  // Sessions destroyed later (with their io_context) find themselves unlinked already.
  ~worker_sessions() { waiting.clear(); }
};

}  // namespace aigw::server
