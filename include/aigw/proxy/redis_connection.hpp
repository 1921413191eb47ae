#pragma once
// One worker's connection to Redis: commands pipelined on one TCP connection, on the worker's
// own io_context (no thread, no lock). hiredis encodes the commands and parses the replies;
// Asio does the I/O.
//
// Redis is a peer like any backend: every reply must answer a command in flight (one out of
// turn ends the connection), a reply is bounded in size and in elements, and every command
// has a deadline. A connection that fails one of these, or that Redis closes, fails every
// command in flight and is made again after a back-off (100 ms doubling to 5 s, jittered).
// Between connections commands fail at once; while one is being made they wait for it, up
// to their deadline: a caller never waits on Redis longer than `timeout`.
#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/steady_timer.hpp>

#include "aigw/config/config.hpp"
#include "aigw/core/asio.hpp"
#include "aigw/metrics/worker_stats.hpp"

namespace aigw::proxy {

// A reply, as far as the gateway reads replies: an integer, an array of integers (other
// elements are left out), a status or string, or an error (the server's, or why the command
// got no reply: `failed`).
struct redis_reply {
  enum class type { failed, error, integer, array, other };
  type kind = type::failed;
  std::string text;  // an error's text, or a status or string (its first 256 bytes)
  // The integer, or an array's first integers (the gateway's replies have two).
  std::array<std::int64_t, 4> integers{};
  std::size_t integer_count = 0;
  bool ok() const noexcept { return kind != type::failed && kind != type::error; }
};

class redis_connection : public std::enable_shared_from_this<redis_connection> {
 public:
  using command = std::span<const std::string_view>;
  using reply_handler = net::any_completion_handler<void(redis_reply)>;

  // `hello`: the commands that open every connection (AUTH, SELECT, SCRIPT LOAD); it is ready
  // once each has answered without an error. `counts` (the worker's) must outlive it.
  static std::shared_ptr<redis_connection> create(net::io_context& io,
                                                  const config::redis_settings& settings,
                                                  std::vector<std::vector<std::string>> hello,
                                                  metrics::worker_stats::redis_counts& counts);
  ~redis_connection();

  void start();
  // Closes the connection for good; commands in flight fail.
  void stop();
  const config::redis_settings& settings() const noexcept { return settings_; }

  // Sends `args`; the reply (or a failed one: not connected, too many in flight, no answer in
  // time, the connection lost) completes `token`, never inline.
  template <class Token>
  auto async_command(command args, Token&& token) {
    return net::async_initiate<Token, void(redis_reply)>(
        [this, args](auto handler) { send(args, reply_handler(std::move(handler))); }, token);
  }
  // Sends `args` and drops the reply (a failure is counted).
  void send(command args) { send(args, reply_handler()); }

 private:
  // down: between connections (commands fail at once); connecting: commands wait, unsent;
  // handshake: the hello is out, commands follow it; ready: the hello was answered.
  enum class state { down, connecting, handshake, ready, stopped };
  struct pending {
    std::chrono::steady_clock::time_point deadline;
    reply_handler handler;  // empty: the reply is dropped
    bool hello = false;
  };
  struct link;  // one TCP connection and its parser

  redis_connection(net::io_context& io, const config::redis_settings& settings,
                   std::vector<std::vector<std::string>> hello,
                   metrics::worker_stats::redis_counts& counts);
  awaitable<void> run(std::shared_ptr<redis_connection> self);
  awaitable<std::string> attempt();
  awaitable<std::string> connect();
  awaitable<std::string> read_replies(std::shared_ptr<link> l);
  void send(command args, reply_handler handler);
  static bool encode(command args, std::string& out);
  void flush();
  void arm_deadline();
  void complete(pending& p, redis_reply reply);
  void fail_all(std::string_view why);
  void close_link(std::string why);

  net::io_context& io_;
  config::redis_settings settings_;
  std::vector<std::vector<std::string>> hello_;
  metrics::worker_stats::redis_counts& counts_;
  state state_ = state::down;
  std::shared_ptr<link> link_;
  std::deque<pending> pending_;
  std::string out_;  // commands not yet handed to the socket
  tcp::resolver resolver_;
  net::steady_timer deadline_;
  net::steady_timer backoff_;
  bool deadline_armed_ = false;
  std::string close_reason_;
};

}  // namespace aigw::proxy
