#include "block_queue.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <thread>

#include "ublk/unique_fd.hpp"

namespace ublk {

std::error_code set_io_timeout(std::string_view name, std::chrono::milliseconds timeout,
                               std::chrono::milliseconds wait) noexcept {
  try {
    const std::string path = "/sys/block/" + std::string(name) + "/queue/io_timeout";
    const auto deadline = std::chrono::steady_clock::now() + wait;
    UniqueFd fd;
    for (;;) {
      fd.reset(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
      if (fd) break;
      if (errno != ENOENT || std::chrono::steady_clock::now() > deadline) {
        return {errno, std::generic_category()};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
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
