#pragma once
#include <chrono>
#include <string>
#include <string_view>
#include <system_error>

#include "ublk/unique_fd.hpp"

namespace ublk {

// open(2) of a node udev/devtmpfs or sysfs creates asynchronously: retried while it fails with
// ENOENT, for up to `wait`. An invalid fd with errno set on failure.
UniqueFd open_when_present(const std::string& path, int flags, std::chrono::milliseconds wait);

// The block layer's request timeout of disk `name` (/sys/block/NAME/queue/io_timeout). The
// queue's sysfs directory appears a little after the device node, so this waits for it (up to
// `wait`). Errors: those of open/write, or ENOENT when the attribute never appeared.
std::error_code set_io_timeout(std::string_view name, std::chrono::milliseconds timeout,
                               std::chrono::milliseconds wait) noexcept;

}  // namespace ublk
