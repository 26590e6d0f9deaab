#include "ublk/recovery.hpp"

#include <chrono>
#include <stdexcept>
#include <thread>

#include "ublk/stale_device.hpp"
#include "ublk/uapi.hpp"

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

Mode mode_of(Features flags) noexcept {
  if (flags.has(uapi::kFeatureNeedGetData)) return Mode::kGetData;
  if (flags.has(uapi::kFeatureUserCopy)) return Mode::kUserCopy;
  return Mode::kCopy;
}

namespace {
ublk_params read_params(Control& control, unsigned id) {
  ublk_params params{};
  params.len = sizeof params;
  ublksrv_ctrl_cmd cmd{};
  cmd.dev_id = id;
  cmd.queue_id = static_cast<__u16>(-1);
  cmd.addr = reinterpret_cast<std::uintptr_t>(&params);
  cmd.len = sizeof params;
  if (const int res = control.run(uapi::CtrlCmd::kGetParams, cmd); res < 0) {
    throw std::system_error(-res, std::generic_category(), "GET_PARAMS of device " + std::to_string(id));
  }
  return params;
}
}  // namespace

RecoverableDevice inspect_for_recovery(Control& control, unsigned id, std::chrono::milliseconds settle) {
  const std::string name = "device " + std::to_string(id);
  const auto deadline = std::chrono::steady_clock::now() + settle;
  for (;;) {
    const auto info = control.device_info(id);
    if (!info) throw std::runtime_error(name + " does not exist: nothing to recover");
    const Features flags(info->flags);
    if (!flags.has(uapi::kFeatureUserRecovery)) {
      throw std::runtime_error(name + " was created without --recovery: it cannot be taken over (`ublk-pool del -n " +
                               std::to_string(id) + "` removes it)");
    }
    const int pid = info->ublksrv_pid;
    if (info->state == uapi::kStateQuiesced || info->state == uapi::kStateFailIo) {
      RecoverableDevice dev;
      dev.id = id;
      dev.queues = info->nr_hw_queues;
      dev.depth = info->queue_depth;
      dev.max_io_bytes = info->max_io_buf_bytes;
      dev.flags = flags;
      dev.mode = mode_of(flags);
      dev.policy = recovery_policy_of(flags);
      dev.old_pid = pid;
      const ublk_params params = read_params(control, id);
      dev.size_bytes = std::uint64_t{params.basic.dev_sectors} << 9;
      dev.logical_block = 1U << params.basic.logical_bs_shift;
      return dev;
    }
    if (info->state == uapi::kStateDead) {
      throw std::runtime_error(name + " is stopped, not waiting for recovery (`ublk-pool del -n " + std::to_string(id) +
                               "` removes it)");
    }
    if (info->state == uapi::kStateLive && process_alive(pid)) {
      throw std::runtime_error(name + " is live, served by pid " + std::to_string(pid) + ": nothing to recover");
    }
    // Live with a dead owner: the kernel quiesces it once the old daemon's files are released.
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error(name + " did not reach the quiesced state (state " + std::to_string(info->state) +
                               ", old pid " + std::to_string(pid) + ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace ublk
