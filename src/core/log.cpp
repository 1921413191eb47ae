#include "aigw/core/log.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace aigw::log {
namespace {
std::atomic<level> min_level{level::info};
}

void set_min_level(level l) noexcept {
  min_level.store(l, std::memory_order_relaxed);
}
bool enabled(level l) noexcept {
  return l >= min_level.load(std::memory_order_relaxed);
}

void write_line(std::string_view line) noexcept {
  // Stack buffer so a line costs one syscall and no allocation in the common case.
  char buffer[2048];
  if (line.size() < sizeof(buffer)) {
    std::copy(line.begin(), line.end(), buffer);
    buffer[line.size()] = '\n';
    line = {buffer, line.size() + 1};
  }
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (line.data() != buffer) {
    ssize_t ignored = ::write(STDERR_FILENO, "\n", 1);
    (void)ignored;
  }
}

void exception(std::string_view what, std::exception_ptr e) noexcept {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    error("{}: {}", what, ex.what());
  } catch (...) {
    error("{}: an unknown exception", what);
  }
}

}  // namespace aigw::log
