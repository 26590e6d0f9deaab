#include "ublk/recovery.hpp"

#include <chrono>
#include <stdexcept>
#include <thread>

#include <signal.h>
#include "uapi.hpp"

namespace ublk {

std::string_view to_string(RecoveryPolicy policy) noexcept {
  switch (policy) {
    case RecoveryPolicy::kNone: return "none";
    case RecoveryPolicy::kRequeue: return "requeue";
    case RecoveryPolicy::kReissue: return "reissue";
    case RecoveryPolicy::kFailIo: return "fail-io";
  }
  return "?";
}

std::uint64_t recovery_flags(RecoveryPolicy policy) noexcept {
  switch (policy) {
    case RecoveryPolicy::kNone: return 0;
    case RecoveryPolicy::kRequeue: return uapi::kFeatureUserRecovery;
    case RecoveryPolicy::kReissue: return uapi::kFeatureUserRecovery | uapi::kFeatureUserRecoveryReissue;
    case RecoveryPolicy::kFailIo: return uapi::kFeatureUserRecovery | uapi::kFeatureUserRecoveryFailIo;
  }
  return 0;
}

RecoveryPolicy recovery_policy_of(Features flags) noexcept {
  if (!flags.has(uapi::kFeatureUserRecovery)) return RecoveryPolicy::kNone;
  if (flags.has(uapi::kFeatureUserRecoveryFailIo)) return RecoveryPolicy::kFailIo;
  if (flags.has(uapi::kFeatureUserRecoveryReissue)) return RecoveryPolicy::kReissue;
  return RecoveryPolicy::kRequeue;
}

std::optional<std::string> check_recovery_support(RecoveryPolicy policy, Features kernel) {
  const std::uint64_t need = recovery_flags(policy);
  if (kernel.has(need)) return std::nullopt;
  return "recovery policy " + std::string(to_string(policy)) + " needs " +
         Features(need & ~kernel.bits()).to_string() + ", which this kernel lacks (features " + kernel.to_string() +
         ")";
}

bool process_alive(int pid) noexcept {
  if (pid <= 0) return false;
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

Mode mode_of(Features flags) noexcept {
  if (flags.has(uapi::kFeatureAutoBufReg)) return Mode::kZeroCopy;
  if (flags.has(uapi::kFeatureNeedGetData)) return Mode::kGetData;
  if (flags.has(uapi::kFeatureUserCopy)) return Mode::kUserCopy;
  return Mode::kCopy;
}


RecoverableDevice inspect_for_recovery(Control& control, unsigned id, std::chrono::milliseconds settle) {
  const std::string name = "device " + std::to_string(id);
  const auto deadline = std::chrono::steady_clock::now() + settle;
  for (;;) {
    const auto info = control.device_info(id);
    if (!info) throw std::runtime_error(name + " does not exist: nothing to recover");
    const Features flags(info->flags.bits());
    if (!flags.has(uapi::kFeatureUserRecovery)) {
      throw std::runtime_error(name + " was created without DeviceConfig::recovery: it cannot be taken over (delete "
                               "it instead)");
    }
    const int pid = info->daemon_pid;
    if (info->state == DeviceState::kQuiesced || info->state == DeviceState::kFailIo) {
      RecoverableDevice dev;
      dev.id = id;
      dev.queues = info->queues;
      dev.depth = info->depth;
      dev.max_io_bytes = info->max_io_bytes;
      dev.flags = flags;
      dev.mode = mode_of(flags);
      dev.policy = recovery_policy_of(flags);
      dev.old_pid = pid;
      const BasicParams params = control.params(id);
      dev.size_bytes = params.capacity_bytes;
      dev.logical_block = params.logical_block;
      return dev;
    }
    if (info->state == DeviceState::kDead) {
      throw std::runtime_error(name + " is stopped, not waiting for recovery (delete it instead)");
    }
    if (info->state == DeviceState::kLive && process_alive(pid)) {
      throw std::runtime_error(name + " is live, served by pid " + std::to_string(pid) + ": nothing to recover");
    }
    // Live with a dead owner: the kernel quiesces it once the old daemon's files are released.
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error(name + " did not reach the quiesced state (state " + std::to_string(static_cast<unsigned>(info->state)) +
                               ", old pid " + std::to_string(pid) + ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace ublk
