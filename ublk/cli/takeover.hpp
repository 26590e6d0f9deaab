#pragma once
// `--recover N` with the options the device was created with: the same command line serves to
// create a device and to take it over after a crash.

#include <optional>
#include <string>

#include "options.hpp"
#include "ublk/recovery.hpp"

namespace ublk::cli {

// One line naming the first option given (DaemonOptions::device_options) whose value differs
// from the device's, or nullopt when they all agree. --mode auto agrees with any mode.
std::optional<std::string> takeover_conflict(const DaemonOptions& options, const RecoverableDevice& device);

// The device's shape, mode and recovery policy replace the options' (after takeover_conflict).
void adopt_device_shape(const RecoverableDevice& device, DaemonOptions& options);

}  // namespace ublk::cli
