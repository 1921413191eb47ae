#include "aigw/proxy/redis_connection.hpp"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <algorithm>
#include <array>
#include <random>

#include <fmt/format.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/container/small_vector.hpp>

#include "aigw/core/log.hpp"

namespace aigw::proxy {
namespace {

constexpr std::size_t kMaxPending = 4096;          // commands in flight on one connection
constexpr std::size_t kMaxReplyBytes = 64 * 1024;  // bytes read without a whole reply
constexpr int kMaxReplyElements = 16;              // the gateway's replies have 2 or 4
constexpr std::size_t kMaxReplyText = 256;
constexpr auto kFirstPause = std::chrono::milliseconds(100);
constexpr auto kLongestPause = std::chrono::seconds(5);

// hiredis builds replies through these: one redis_reply per top-level reply, with nested
// elements folded into it (integers kept, the rest left out), and arrays longer than the
// gateway's replies refused (hiredis then reports an error, and the connection ends), so
// that what a peer sends costs a bounded amount of memory.
redis_reply* root_of(const redisReadTask* task) {
  return task->parent ? static_cast<redis_reply*>(task->parent->obj) : nullptr;
}
void* make_string(const redisReadTask* task, char* text, size_t length) {
  if (auto* root = root_of(task)) return root;
  auto* reply = new redis_reply;
  reply->kind =
      task->type == REDIS_REPLY_ERROR ? redis_reply::type::error : redis_reply::type::other;
  // The text may reach the log (an error reply): printable ASCII only.
  reply->text.assign(text, std::min(length, kMaxReplyText));
  for (auto& c : reply->text)
    if (auto byte = static_cast<unsigned char>(c); byte < 0x20 || byte > 0x7e) c = '?';
  return reply;
}
void* make_array(const redisReadTask* task, int elements) {
  // hiredis 0.14 passes a length it read as a long as an int: one past 2^31 arrives
  // negative or 0 while hiredis still reads elements for it. No reply the gateway asks for is
  // an empty array (a nil one comes as make_nil).
  if (elements < 1 || elements > kMaxReplyElements) return nullptr;
  if (auto* root = root_of(task)) return root;
  auto* reply = new redis_reply;
  reply->kind = redis_reply::type::array;
  return reply;
}
void* make_integer(const redisReadTask* task, long long value) {
  if (auto* root = root_of(task)) {
    if (root->integer_count < root->integers.size()) root->integers[root->integer_count++] = value;
    return root;
  }
  auto* reply = new redis_reply;
  reply->kind = redis_reply::type::integer;
  reply->integers[reply->integer_count++] = value;
  return reply;
}
void* make_nil(const redisReadTask* task) {
  if (auto* root = root_of(task)) return root;
  auto* reply = new redis_reply;
  reply->kind = redis_reply::type::other;
  return reply;
}
void free_reply(void* reply) {
  delete static_cast<redis_reply*>(reply);
}

redisReplyObjectFunctions kReplyFunctions{make_string, make_array, make_integer, make_nil,
                                          free_reply};

redis_reply failed(std::string_view why) {
  redis_reply r;
  r.text = why;
  return r;
}

}  // namespace

struct redis_connection::link {
  explicit link(net::io_context& io)
      : socket(io), reader(redisReaderCreateWithFunctions(&kReplyFunctions)) {}
  ~link() { redisReaderFree(reader); }
  link(const link&) = delete;
  link& operator=(const link&) = delete;

  tcp::socket socket;
  redisReader* reader;
  std::string sending;  // the batch being written
  bool writing = false;
};

std::shared_ptr<redis_connection> redis_connection::create(
    net::io_context& io, const config::redis_settings& settings,
    std::vector<std::vector<std::string>> hello, metrics::worker_stats::redis_counts& counts) {
  return std::shared_ptr<redis_connection>(
      new redis_connection(io, settings, std::move(hello), counts));
}

redis_connection::redis_connection(net::io_context& io, const config::redis_settings& settings,
                                   std::vector<std::vector<std::string>> hello,
                                   metrics::worker_stats::redis_counts& counts)
    : io_(io),
      settings_(settings),
      hello_(std::move(hello)),
      counts_(counts),
      resolver_(io),
      deadline_(io),
      backoff_(io) {}

redis_connection::~redis_connection() = default;

void redis_connection::start() {
  net::co_spawn(io_, run(shared_from_this()), [](std::exception_ptr e) {
    log::exception("redis: the connection loop ended", e);
  });
}

void redis_connection::stop() {
  if (state_ == state::stopped) return;
  if (state_ == state::ready) --counts_.connected;
  state_ = state::stopped;
  backoff_.cancel();
  deadline_.cancel();
  resolver_.cancel();
  if (link_) {
    error_code ignored;
    link_->socket.close(ignored);
  }
  fail_all("the Redis connection was closed (reload)");
}

// Connects, says hello, reads replies until the connection fails, and again after a pause,
// until stopped. Whatever ends a connection (even an exception) fails what waits on it.
awaitable<void> redis_connection::run([[maybe_unused]] std::shared_ptr<redis_connection> self) {
  auto pause = std::chrono::milliseconds(kFirstPause);
  std::minstd_rand jitter(std::random_device{}());
  std::string last_said;
  auto where = fmt::format("{}:{}", settings_.host, settings_.port);
  while (state_ != state::stopped) {
    std::string why;
    try {
      why = co_await attempt();
    } catch (const std::exception& e) {
      why = fmt::format("an internal error ({})", e.what());
    }
    if (state_ == state::stopped) break;
    bool was_ready = state_ == state::ready;
    if (was_ready) {
      --counts_.connected;
      pause = kFirstPause;
    }
    state_ = state::down;
    error_code ignored;
    link_->socket.close(ignored);
    fail_all(fmt::format("Redis is unavailable ({})", why));
    out_.clear();
    // Once per outage, and again when the reason changes (not at every retry).
    if (was_ready || why != last_said)
      log::warn("redis {}: {}; budgets follow on_redis_error ({}) until it is back", where, why,
                settings_.fail_open ? "fail_open" : "fail_closed");
    last_said = why;
    // A jittered pause, so that workers and replicas do not come back in step.
    auto jittered = pause * (80 + static_cast<int>(jitter() % 41)) / 100;
    backoff_.expires_after(jittered);
    co_await backoff_.async_wait(use_tuple);
    pause = std::min<std::chrono::milliseconds>(pause * 2, kLongestPause);
  }
}

// One connection: commands sent while it connects wait (nothing of them is written yet);
// once it is up, the hello goes first and they follow in the same write.
awaitable<std::string> redis_connection::attempt() {
  link_ = std::make_shared<link>(io_);
  close_reason_.clear();
  state_ = state::connecting;
  auto why = co_await connect();
  if (!why.empty()) co_return why;
  std::string hello;
  std::deque<pending> hello_pending;
  auto hello_deadline =
      std::chrono::steady_clock::now() +
      std::max<std::chrono::steady_clock::duration>(settings_.timeout, std::chrono::seconds(1));
  for (const auto& command : hello_) {
    std::vector<std::string_view> args(command.begin(), command.end());
    if (!encode(args, hello)) co_return "a command could not be encoded";
    hello_pending.push_back({hello_deadline, {}, true});
  }
  out_.insert(0, hello);
  pending_.insert(pending_.begin(), std::make_move_iterator(hello_pending.begin()),
                  std::make_move_iterator(hello_pending.end()));
  state_ = state::handshake;
  arm_deadline();
  flush();
  co_return co_await read_replies(link_);
}

awaitable<std::string> redis_connection::connect() {
  auto l = link_;
  auto [rec, endpoints] =
      co_await resolver_.async_resolve(settings_.host, std::to_string(settings_.port), use_tuple);
  if (state_ == state::stopped) co_return "stopped";
  if (rec) co_return fmt::format("cannot resolve {}: {}", settings_.host, rec.message());
  // The connection gets the longer of a command's deadline and a second.
  auto done = std::make_shared<bool>(false);
  auto timed_out = std::make_shared<bool>(false);
  net::steady_timer limit(io_, std::max<std::chrono::steady_clock::duration>(
                                   settings_.timeout, std::chrono::seconds(1)));
  limit.async_wait([done, timed_out, l](error_code ec) {
    if (ec || *done) return;  // (a connect that completed in the same turn stays)
    *timed_out = true;
    error_code ignored;
    l->socket.close(ignored);
  });
  auto [cec, endpoint] = co_await net::async_connect(l->socket, endpoints, use_tuple);
  *done = true;
  limit.cancel();
  if (state_ == state::stopped) co_return "stopped";
  if (*timed_out) co_return "no connection within the timeout";
  if (cec) co_return fmt::format("cannot connect: {}", cec.message());
  error_code ignored;
  l->socket.set_option(tcp::no_delay(true), ignored);
  co_return std::string();
}

awaitable<std::string> redis_connection::read_replies(std::shared_ptr<link> l) {
  std::array<char, 16 * 1024> buffer;
  std::size_t unanswered_bytes = 0;  // read since the last whole reply
  for (;;) {
    auto [ec, n] = co_await l->socket.async_read_some(net::buffer(buffer), use_tuple);
    if (!close_reason_.empty()) co_return close_reason_;
    if (ec)
      co_return ec == net::error::eof ? std::string("Redis closed the connection") : ec.message();
    unanswered_bytes += n;
    if (unanswered_bytes > kMaxReplyBytes) co_return "a reply over 64 KiB";
    if (redisReaderFeed(l->reader, buffer.data(), n) != REDIS_OK) co_return "reply parser failed";
    for (;;) {
      void* object = nullptr;
      if (redisReaderGetReply(l->reader, &object) != REDIS_OK)
        // (the reply builder's refusal of a long array reads as hiredis' out-of-memory)
        co_return l->reader->err == REDIS_ERR_OOM
            ? std::string("a reply longer than any the gateway asked for")
            : fmt::format("a malformed reply ({})", l->reader->errstr);
      if (!object) break;
      std::unique_ptr<redis_reply> reply(static_cast<redis_reply*>(object));
      unanswered_bytes = 0;
      if (pending_.empty()) co_return "a reply to no command";
      auto p = std::move(pending_.front());
      pending_.pop_front();
      if (p.hello) {
        if (!reply->ok()) co_return fmt::format("refused the connection: {}", reply->text);
        if (!pending_.empty() && pending_.front().hello) continue;
        state_ = state::ready;
        ++counts_.connected;
        log::info("redis {}:{}: connected", settings_.host, settings_.port);
        continue;
      }
      complete(p, std::move(*reply));
    }
  }
}

void redis_connection::send(command args, reply_handler handler) {
  ++counts_.commands;
  pending p{std::chrono::steady_clock::now() + settings_.timeout, std::move(handler)};
  if (state_ == state::down || state_ == state::stopped)
    return complete(p, failed("Redis is unavailable"));
  if (pending_.size() >= kMaxPending) return complete(p, failed("too many Redis commands waiting"));
  if (!encode(args, out_)) return complete(p, failed("a command could not be encoded"));
  pending_.push_back(std::move(p));
  arm_deadline();
  flush();
}

bool redis_connection::encode(command args, std::string& out) {
  boost::container::small_vector<const char*, 16> argv;
  boost::container::small_vector<size_t, 16> lengths;
  for (auto a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  char* encoded = nullptr;
  int size =
      redisFormatCommandArgv(&encoded, static_cast<int>(argv.size()), argv.data(), lengths.data());
  if (size <= 0 || !encoded) {
    redisFreeCommand(encoded);
    return false;
  }
  out.append(encoded, static_cast<std::size_t>(size));
  redisFreeCommand(encoded);
  return true;
}

// One write at a time, each of everything queued since the last: commands that arrive while
// a write is under way go in the next batch (a pipeline).
void redis_connection::flush() {
  auto l = link_;
  bool connected = state_ == state::handshake || state_ == state::ready;
  if (!l || !connected || l->writing || out_.empty()) return;
  l->writing = true;
  std::swap(l->sending, out_);
  net::async_write(l->socket, net::buffer(l->sending),
                   [this, l, self = shared_from_this()](error_code ec, std::size_t) {
                     l->writing = false;
                     l->sending.clear();
                     if (l != link_) return;  // an earlier connection's
                     if (ec) return close_link(fmt::format("cannot write: {}", ec.message()));
                     flush();
                   });
}

// One timer, for the command whose deadline comes first (replies come in order, but the
// hello of a new connection goes before commands queued while it connected).
void redis_connection::arm_deadline() {
  if (deadline_armed_ || pending_.empty()) return;
  auto first =
      std::min_element(pending_.begin(), pending_.end(), [](const pending& a, const pending& b) {
        return a.deadline < b.deadline;
      })->deadline;
  deadline_armed_ = true;
  deadline_.expires_at(first);
  deadline_.async_wait([this, self = shared_from_this()](error_code ec) {
    deadline_armed_ = false;
    if (ec || pending_.empty()) return;
    auto now = std::chrono::steady_clock::now();
    bool expired = std::any_of(pending_.begin(), pending_.end(),
                               [now](const pending& p) { return p.deadline <= now; });
    if (!expired) return arm_deadline();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(settings_.timeout).count();
    if (state_ == state::connecting) {
      // Nothing of them was written: they fail, and the connection goes on being made.
      fail_all(fmt::format("no connection to Redis within {} ms", ms));
      out_.clear();
      return;
    }
    close_link(fmt::format("no reply within {} ms", ms));
  });
}

void redis_connection::close_link(std::string why) {
  if (!close_reason_.empty() || !link_) return;
  close_reason_ = std::move(why);
  error_code ignored;
  link_->socket.close(ignored);
}

void redis_connection::complete(pending& p, redis_reply reply) {
  if (!reply.ok()) ++counts_.failures;
  if (!p.handler) return;
  // Never inline: the caller (a session of this worker, on this io_context) resumes from the
  // io_context, not from inside the reply loop or from its own send.
  net::post(io_, [handler = std::move(p.handler), reply = std::move(reply)]() mutable {
    std::move(handler)(std::move(reply));
  });
}

void redis_connection::fail_all(std::string_view why) {
  auto waiting = std::move(pending_);
  pending_.clear();
  for (auto& p : waiting)
    if (!p.hello) complete(p, failed(why));
}

}  // namespace aigw::proxy
