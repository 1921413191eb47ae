#include "aigw/core/deadline.hpp"

#include <algorithm>

namespace aigw {

deadline::deadline(deadline_sweeper& sweeper, tcp::socket& socket) : socket_(socket) {
  sweeper.deadlines_.push_back(*this);  // unlinks itself when destroyed
}

deadline_sweeper::deadline_sweeper(net::io_context& io, duration tick) : timer_(io), tick_(tick) {}

void deadline_sweeper::start() {
  schedule();
}

void deadline_sweeper::stop() {
  timer_.cancel();
}

void deadline_sweeper::schedule() {
  timer_.expires_after(tick_);
  timer_.async_wait([this](error_code ec) {
    if (ec) return;  // stopped
    sweep();
    schedule();
  });
}

void deadline_sweeper::expire_all() {
  auto now = deadline::clock::now();
  for (auto& d : deadlines_) d.at_ = std::min(d.at_, now);
  sweep();
}

void deadline_sweeper::sweep() {
  auto now = deadline::clock::now();
  for (auto& d : deadlines_) {
    if (d.at_ > now) continue;
    d.fired_ = true;
    error_code ignored;
    d.socket_.cancel(ignored);
  }
}

}  // namespace aigw
