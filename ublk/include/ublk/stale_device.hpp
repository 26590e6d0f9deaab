#pragma once
#include "ublk/control.hpp"

namespace ublk {

// Makes a device id asked for with --id usable again after a crash. A device whose daemon died
// without user recovery lingers until someone deletes it; this stops and deletes it (one line on
// stderr says so). A device whose daemon is alive, or one that waits for user recovery, is
// refused with a one-line std::runtime_error saying how to free the id. No device: nothing.
void reclaim_device_id(Control& control, unsigned id);

// Whether process `pid` exists (another daemon may still own a device).
bool process_alive(int pid) noexcept;

}  // namespace ublk
