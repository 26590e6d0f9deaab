#pragma once
#include <chrono>
#include <string_view>
#include <system_error>

namespace ublk {

// The block layer's request timeout of disk `name` (/sys/block/NAME/queue/io_timeout). The
// queue's sysfs directory appears a little after the device node, so this waits for it (up to
// `wait`). Errors: those of open/write, or ENOENT when the attribute never appeared.
std::error_code set_io_timeout(std::string_view name, std::chrono::milliseconds timeout,
                               std::chrono::milliseconds wait) noexcept;

}  // namespace ublk
