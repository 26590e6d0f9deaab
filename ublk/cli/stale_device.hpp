#pragma once
#include <optional>

#include "ublk/control.hpp"

namespace ublk::cli {

// Makes a device id asked for with --id usable again after a crash: a daemon's decision, taken
// before it adds the device. A device whose daemon died without user recovery lingers until
// someone deletes it; this stops and deletes it and returns the dead daemon's pid. A device whose
// daemon is alive, or one that waits for user recovery, is refused with a one-line
// std::runtime_error saying how to free the id. No device: nullopt.
std::optional<int> reclaim_device_id(Control& control, unsigned id);

}  // namespace ublk::cli
