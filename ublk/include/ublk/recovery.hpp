#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ublk/control.hpp"
#include "ublk/features.hpp"
#include "ublk/mode.hpp"

namespace ublk {

// Whether process `pid` exists (another daemon may still own a device).
bool process_alive(int pid) noexcept;


// What the kernel does with IO while a device's daemon is gone (UBLK_F_USER_RECOVERY*), chosen
// at ADD_DEV. With any policy but kNone the device outlives its daemon's crash, waiting for a
// new daemon to take it over (START/END_USER_RECOVERY).
enum class RecoveryPolicy : std::uint8_t {
  kNone,     // no recovery: the device is stopped when its daemon dies, IO fails
  kRequeue,  // UBLK_F_USER_RECOVERY: IO in flight fails, new IO waits for the next daemon
  kReissue,  // + _REISSUE: IO in flight is issued again to the next daemon, new IO waits
  kFailIo,   // + _FAIL_IO: all IO fails until the next daemon is there
};

std::string_view to_string(RecoveryPolicy policy) noexcept;
// The UBLK_F_* flags ADD_DEV asks for.
std::uint64_t recovery_flags(RecoveryPolicy policy) noexcept;
// The policy a device was created with, from its flags.
RecoveryPolicy recovery_policy_of(Features device_flags) noexcept;
// A one-line refusal when the kernel lacks a flag the policy needs.
std::optional<std::string> check_recovery_support(RecoveryPolicy policy, Features kernel);
// The buffer mode a device was created with, from its flags.
Mode mode_of(Features device_flags) noexcept;

// A device that waits for user recovery, as the kernel describes it.
struct RecoverableDevice {
  unsigned id = 0;
  unsigned queues = 0;
  unsigned depth = 0;
  std::uint32_t max_io_bytes = 0;
  std::uint64_t size_bytes = 0;
  std::uint32_t logical_block = 512;
  Features flags;
  Mode mode = Mode::kCopy;
  RecoveryPolicy policy = RecoveryPolicy::kNone;
  int old_pid = -1;
};

// Reads device `id` for a takeover. Throws std::runtime_error with one line saying what is
// wrong: no such device, created without recovery, its daemon still alive, or not (yet)
// quiesced. A device whose old daemon just died may take a moment to quiesce: this waits up
// to `settle` for it.
RecoverableDevice inspect_for_recovery(Control& control, unsigned id,
                                       std::chrono::milliseconds settle = std::chrono::seconds(10));

}  // namespace ublk
