#pragma once
// `--recover N` with the options the device was created with: the same command line serves to
// create a device and to take it over after a crash.

#include <optional>
#include <string>

#include "options.hpp"
#include "ublk/recovery.hpp"
#include "ublk/target.hpp"

namespace ublk::cli {

// One line naming the first option given (DaemonOptions::device_options) whose value differs
// from the device's, or nullopt when they all agree. --mode auto agrees with any mode.
// ublk-pool-nbd (kind kNbd): --queues and --max-io are upper bounds that the export may have
// lowered when the device was made, so a device with fewer queues or smaller requests agrees.
std::optional<std::string> takeover_conflict(const DaemonOptions& options, const RecoverableDevice& device,
                                             DaemonKind kind = DaemonKind::kMem);

// The device's shape, mode and recovery policy replace the options' (after takeover_conflict).
void adopt_device_shape(const RecoverableDevice& device, DaemonOptions& options);

// After adopt_device_shape: one line when the backend, opened again, cannot serve the device
// as it was made (an NBD export or a file whose size or block size changed, a server that now
// allows fewer connections or smaller requests), else nullopt. The kernel keeps the device's
// shape across a takeover; a backend that disagrees would serve other data, or none.
std::optional<std::string> backend_shape_conflict(const TargetTraits& backend, const DaemonOptions& device_shape);

}  // namespace ublk::cli
