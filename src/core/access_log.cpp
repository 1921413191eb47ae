#include "aigw/core/access_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace aigw::log {

access_sink& access_sink::instance() {
  static access_sink sink;
  return sink;
}

int access_sink::open_fd() {
  if (path_ == "stderr") return STDERR_FILENO;
  if (path_ == "stdout") return STDOUT_FILENO;
  return ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

void access_sink::open(const std::string& destination) {
  path_ = destination;
  fd_ = open_fd();
  if (fd_ < 0)
    throw std::runtime_error("access_log: cannot open " + destination + ": " +
                             std::strerror(errno));
  own_fd_ = fd_ != STDERR_FILENO && fd_ != STDOUT_FILENO;
  thread_ = std::thread([this] { run(); });
}

void access_sink::write(std::string_view line) {
  {
    std::lock_guard lock(mutex_);
    if (pending_.size() + line.size() + 1 > kMaxPending) {
      ++dropped_;
      return;
    }
    pending_.append(line);
    pending_.push_back('\n');
  }
  wake_.notify_one();
}

void access_sink::reopen() {
  {
    std::lock_guard lock(mutex_);
    reopen_ = true;
  }
  wake_.notify_one();
}

void access_sink::close() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
  if (own_fd_) ::close(fd_);
}

std::uint64_t access_sink::dropped() const noexcept {
  std::lock_guard lock(const_cast<std::mutex&>(mutex_));
  return dropped_;
}

void access_sink::run() {
  std::string writing;
  for (;;) {
    bool reopen = false;
    bool stopping = false;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return !pending_.empty() || reopen_ || stopping_; });
      writing.swap(pending_);
      reopen = std::exchange(reopen_, false);
      stopping = stopping_;
    }
    if (reopen && own_fd_) {
      int fd = open_fd();
      if (fd >= 0) {
        ::close(fd_);
        fd_ = fd;
      }
    }
    const char* p = writing.data();
    std::size_t left = writing.size();
    while (left > 0) {
      auto n = ::write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // nowhere to write: these lines are lost
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    writing.clear();
    if (stopping) return;
  }
}

}  // namespace aigw::log
