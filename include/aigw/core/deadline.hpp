#pragma once
// Coarse I/O deadlines, swept per worker. Arming a deadline is a store of a time point, not a
// timer operation: a proxied request arms one before each read and write, and a per-op timer
// (Beast's tcp_stream) would cost a timer-queue insert, a cancel and an extra completion
// handler every time. A sweeper ticks every `tick` and cancels the socket of each deadline
// that has passed, so timeouts fire within [d, d + tick]; the cancelled operation completes
// with operation_aborted and deadline::fired() tells that a timeout, not the peer, ended it.
// An expired deadline keeps cancelling on every tick until it is re-armed, so a timeout that
// passes between two operations still ends the next one.
#include <chrono>

#include <boost/asio/steady_timer.hpp>
#include <boost/intrusive/list.hpp>

#include "aigw/core/asio.hpp"
#include "aigw/core/units.hpp"

namespace aigw {

class deadline_sweeper;

class deadline : public boost::intrusive::list_base_hook<
                     boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
 public:
  using clock = std::chrono::steady_clock;

  deadline(deadline_sweeper& sweeper, tcp::socket& socket);
  deadline(const deadline&) = delete;
  deadline& operator=(const deadline&) = delete;

  void expires_after(duration d) noexcept {
    at_ = clock::now() + d;
    fired_ = false;
  }
  void expires_never() noexcept {
    at_ = clock::time_point::max();
    fired_ = false;
  }
  // Whether the deadline passed since it was last armed.
  bool fired() const noexcept { return fired_; }

 private:
  friend class deadline_sweeper;
  clock::time_point at_ = clock::time_point::max();
  tcp::socket& socket_;
  bool fired_ = false;
};

class deadline_sweeper {
 public:
  explicit deadline_sweeper(net::io_context& io, duration tick = std::chrono::milliseconds(50));
  // Deadlines destroyed later (sessions suspended in the io_context, destroyed with it)
  // find themselves unlinked already.
  ~deadline_sweeper() { deadlines_.clear(); }
  void start();
  void stop();
  // Expires every deadline now (a drain that ran out of time): each pending operation ends
  // as a timeout, and whoever awaited it says so to its client.
  void expire_all();

 private:
  friend class deadline;
  void schedule();
  void sweep();

  net::steady_timer timer_;
  duration tick_;
  boost::intrusive::list<deadline, boost::intrusive::constant_time_size<false>> deadlines_;
};

}  // namespace aigw
