#pragma once
// What clients can make the whole process hold, shared by every worker: open client
// connections (limits.max_connections) and buffered request bodies
// (limits.max_buffered_request_bytes). Each is one relaxed atomic, touched once when a
// connection opens or closes and once per body read, never per relayed byte. Without these,
// a few hundred clients that each declare a large body and send it slowly would take all
// the memory there is.
#include <atomic>
#include <cstdint>

namespace aigw::server {

class process_budget {
 public:
  process_budget(std::uint64_t max_body_bytes, std::uint32_t max_connections)
      : max_body_bytes_(max_body_bytes), max_connections_(max_connections) {}

  // Takes a connection slot; false (and counted as refused) when all are taken.
  bool try_open_connection() noexcept {
    if (connections_.fetch_add(1, std::memory_order_relaxed) < max_connections_) return true;
    connections_.fetch_sub(1, std::memory_order_relaxed);
    refused_connections_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  void close_connection() noexcept { connections_.fetch_sub(1, std::memory_order_relaxed); }

  // Reserves `bytes` of body memory; false (and counted as refused) when that would pass
  // the budget.
  bool try_reserve_body(std::uint64_t bytes) noexcept {
    if (body_bytes_.fetch_add(bytes, std::memory_order_relaxed) + bytes <= max_body_bytes_)
      return true;
    body_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
    refused_bodies_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  void release_body(std::uint64_t bytes) noexcept {
    body_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
  }

  std::uint32_t connections() const noexcept {
    return connections_.load(std::memory_order_relaxed);
  }
  std::uint64_t body_bytes() const noexcept { return body_bytes_.load(std::memory_order_relaxed); }
  std::uint64_t refused_connections() const noexcept {
    return refused_connections_.load(std::memory_order_relaxed);
  }
  std::uint64_t refused_bodies() const noexcept {
    return refused_bodies_.load(std::memory_order_relaxed);
  }

 private:
  const std::uint64_t max_body_bytes_;
  const std::uint32_t max_connections_;
  std::atomic<std::uint32_t> connections_{0};
  std::atomic<std::uint64_t> body_bytes_{0};
  std::atomic<std::uint64_t> refused_connections_{0};
  std::atomic<std::uint64_t> refused_bodies_{0};
};

// A body reservation that follows the body as it grows and is given back when the request
// ends, whatever way it ends.
class body_reservation {
 public:
  explicit body_reservation(process_budget& budget) noexcept : budget_(budget) {}
  body_reservation(const body_reservation&) = delete;
  body_reservation& operator=(const body_reservation&) = delete;
  ~body_reservation() { budget_.release_body(held_); }

  // Makes the reservation at least `bytes`; false when the budget cannot cover it.
  bool grow_to(std::uint64_t bytes) noexcept {
    if (bytes <= held_) return true;
    if (!budget_.try_reserve_body(bytes - held_)) return false;
    held_ = bytes;
    return true;
  }

 private:
  process_budget& budget_;
  std::uint64_t held_ = 0;
};

}  // namespace aigw::server
