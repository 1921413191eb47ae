#pragma once
// Where the access log goes (stderr, stdout or a file), written by a thread of its own: a
// worker appends its line to a bounded buffer (one short lock, no syscall) and never waits
// for a slow disk. When the buffer is full (the disk stalls), lines are dropped and counted,
// never queued without bound. reopen() makes the writer reopen a file (SIGUSR1, after
// logrotate moved it).
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace aigw::log {

class access_sink {
 public:
  // The process's one access log.
  static access_sink& instance();

  // `destination`: "stderr", "stdout" or a file path (appended to). Throws
  // std::runtime_error when the file cannot be opened.
  void open(const std::string& destination);
  void write(std::string_view line);  // one line, without its newline
  void reopen();
  void close();  // writes what is buffered and stops the writer
  std::uint64_t dropped() const noexcept;

  // What may wait for the disk; past it, lines are dropped.
  static constexpr std::size_t kMaxPending = 4u << 20;

 private:
  access_sink() = default;
  void run();
  int open_fd();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::string pending_;
  std::string path_;
  int fd_ = -1;
  bool own_fd_ = false;
  bool stopping_ = false;
  bool reopen_ = false;
  std::uint64_t dropped_ = 0;
  std::thread thread_;
};

}  // namespace aigw::log
