#include "stale_device.hpp"

#include "ublk/recovery.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>

namespace ublk::cli {

std::optional<int> reclaim_device_id(Control& control, unsigned id) {
  const auto info = control.device_info(id);
  if (!info) return std::nullopt;
  const std::string name = "device " + std::to_string(id);
  const int pid = info->daemon_pid;
  if (pid != ::getpid() && process_alive(pid)) {
    throw std::runtime_error(name + " is in use by pid " + std::to_string(pid) + " (`ublk-pool del -n " +
                             std::to_string(id) + "` removes it)");
  }
  if (info->state == DeviceState::kQuiesced || info->state == DeviceState::kFailIo) {
    throw std::runtime_error(name + " waits for user recovery (`ublk-pool-mem --recover " + std::to_string(id) +
                             "` or `ublk-pool del -n " + std::to_string(id) + "`)");
  }
  (void)control.stop_device(id);  // a dead daemon's device may still be live in the kernel's eyes
  if (auto error = control.delete_device(id)) {
    throw std::runtime_error("cannot remove the dead daemon's " + name + ": DEL_DEV: " + error.message());
  }
  return pid;
}

}  // namespace ublk::cli
