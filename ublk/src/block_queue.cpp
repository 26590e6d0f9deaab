#include "block_queue.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <thread>

#include "ublk/unique_fd.hpp"

namespace ublk {

UniqueFd open_when_present(const std::string& path, int flags, std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC));
    if (fd || errno != ENOENT || std::chrono::steady_clock::now() > deadline) return fd;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::error_code set_io_timeout(std::string_view name, std::chrono::milliseconds timeout,
                               std::chrono::milliseconds wait) noexcept {
  try {
    const UniqueFd fd = open_when_present("/sys/block/" + std::string(name) + "/queue/io_timeout", O_WRONLY, wait);
    if (!fd) return {errno, std::generic_category()};
    const std::string value = std::to_string(timeout.count());
    const ssize_t n = ::write(fd.get(), value.data(), value.size());
    if (n < 0) return {errno, std::generic_category()};
    if (static_cast<std::size_t>(n) != value.size()) return std::make_error_code(std::errc::io_error);
    return {};
  } catch (const std::bad_alloc&) {
    return std::make_error_code(std::errc::not_enough_memory);
  }
}

}  // namespace ublk
