#include "ublk/control.hpp"

#include "ring.hpp"
#include "uapi.hpp"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ublk {

namespace {
ublksrv_ctrl_cmd header_for(unsigned dev_id) {
  ublksrv_ctrl_cmd cmd{};
  cmd.dev_id = dev_id;
  cmd.queue_id = static_cast<__u16>(-1);
  return cmd;
}

void check(int res, const char* what) {
  if (res < 0) throw std::system_error(-res, std::generic_category(), what);
}

// The 6.1 kernel's feature set, for kernels too old to say.
constexpr std::uint64_t kAssumedOldFeatures = uapi::kFeatureCompInTask | uapi::kFeatureNeedGetData |
                                              uapi::kFeatureUserRecovery | uapi::kFeatureUserRecoveryReissue;
}  // namespace

static_assert(kMaxQueueDepth == uapi::kMaxQueueDepth && kMaxIoBytes == uapi::kMaxIoBytes);

namespace {
DeviceInfo to_info(const ublksrv_ctrl_dev_info& raw) {
  DeviceInfo info;
  info.id = raw.dev_id;
  info.queues = raw.nr_hw_queues;
  info.depth = raw.queue_depth;
  info.max_io_bytes = raw.max_io_buf_bytes;
  info.flags = Features(raw.flags);
  info.daemon_pid = raw.ublksrv_pid;
  info.state = static_cast<DeviceState>(raw.state);
  return info;
}
}  // namespace

Control::~Control() = default;

Control::Control() : ring_(std::make_unique<Ring>(8)) {
  fd_.reset(::open(kControlPath, O_RDWR | O_CLOEXEC));
  if (!fd_) {
    if (errno == ENOENT || errno == ENODEV || errno == ENXIO) {
      throw ControlUnavailable(std::string(kControlPath) +
                               " not found: this kernel has no ublk driver; load it with `modprobe ublk_drv` "
                               "(as root)");
    }
    throw std::system_error(errno, std::generic_category(), std::string("open ") + kControlPath);
  }
}

int Control::run_with_opcode(std::uint32_t opcode, const ublksrv_ctrl_cmd& payload) noexcept {
  try {
    io_uring_sqe* sqe = ring_->uring_cmd(fd_.get(), opcode, 0);
    *Ring::cmd_area<ublksrv_ctrl_cmd>(sqe) = payload;
  } catch (const std::system_error& e) {
    return -e.code().value();
  }
  int ret = ring_->submit_and_wait(1);
  while (ret == -EINTR) ret = ring_->submit_and_wait(1);
  if (ret < 0) return ret;
  int res = -EIO;
  bool seen = false;
  while (!seen) {
    ring_->for_each_cqe([&](const io_uring_cqe& cqe) {
      res = cqe.res;
      seen = true;
    });
    if (!seen) {
      ret = io_uring_wait_cqe(ring_->raw(), nullptr);
      if (ret < 0 && ret != -EINTR) return ret;
    }
  }
  return res;
}

int Control::run(uapi::CtrlCmd cmd, const ublksrv_ctrl_cmd& payload) noexcept {
  const bool encoded = features().encoded;
  return run_with_opcode(encoded ? uapi::encoded(cmd) : uapi::legacy(cmd), payload);
}

const KernelFeatures& Control::features() {
  if (features_) return *features_;
  std::uint64_t bits = 0;
  ublksrv_ctrl_cmd cmd = header_for(static_cast<unsigned>(-1));
  cmd.addr = reinterpret_cast<std::uintptr_t>(&bits);
  cmd.len = sizeof bits;
  KernelFeatures kf;
  if (run_with_opcode(uapi::encoded(uapi::CtrlCmd::kGetFeatures), cmd) >= 0 ||
      run_with_opcode(uapi::legacy(uapi::CtrlCmd::kGetFeatures), cmd) >= 0) {
    kf.features = Features(bits);
    kf.reported = true;
    kf.encoded = kf.features.has(uapi::kFeatureCmdIoctlEncode);
  } else {
    kf.features = Features(kAssumedOldFeatures);
  }
  features_ = kf;
  return *features_;
}

DeviceInfo Control::add_device(const AddRequest& request) {
  ublksrv_ctrl_dev_info info{};
  info.nr_hw_queues = static_cast<__u16>(request.queues);
  info.queue_depth = static_cast<__u16>(request.depth);
  info.max_io_buf_bytes = request.max_io_bytes;
  info.dev_id = static_cast<__u32>(request.id);
  info.ublksrv_pid = ::getpid();
  info.flags = request.flags;
  if (features().encoded) info.flags |= uapi::kFeatureCmdIoctlEncode;
  ublksrv_ctrl_cmd cmd = header_for(static_cast<unsigned>(request.id));
  cmd.addr = reinterpret_cast<std::uintptr_t>(&info);
  cmd.len = sizeof info;
  const int res = run(uapi::CtrlCmd::kAddDev, cmd);
  if (res == -EEXIST) throw std::system_error(EEXIST, std::generic_category(), "ADD_DEV: that device id is taken");
  check(res, "ADD_DEV");
  return to_info(info);
}

void Control::set_params(unsigned dev_id, const BasicParams& p) {
  ublk_params params{};
  params.len = sizeof params;
  params.types = uapi::kParamTypeBasic;
  auto shift = [](std::uint32_t v) {
    __u8 s = 0;
    while ((std::uint64_t{1} << (s + 1)) <= v) ++s;
    return s;
  };
  params.basic.logical_bs_shift = shift(p.logical_block);
  params.basic.physical_bs_shift = shift(std::max(p.physical_block, p.logical_block));
  params.basic.io_min_shift = shift(std::max(p.io_min, p.logical_block));
  params.basic.io_opt_shift = shift(p.io_opt ? p.io_opt : p.max_io_bytes);
  params.basic.max_sectors = p.max_io_bytes >> 9;
  params.basic.dev_sectors = p.capacity_bytes >> 9;
  params.basic.attrs = p.attrs;
  if (p.max_discard_bytes || p.max_write_zeroes_bytes) {
    params.types |= uapi::kParamTypeDiscard;
    params.discard.discard_granularity = std::max(p.discard_granularity, p.logical_block);
    params.discard.max_discard_sectors = p.max_discard_bytes >> 9;
    params.discard.max_write_zeroes_sectors = p.max_write_zeroes_bytes >> 9;
    params.discard.max_discard_segments = 1;
  }
  ublksrv_ctrl_cmd cmd = header_for(dev_id);
  cmd.addr = reinterpret_cast<std::uintptr_t>(&params);
  cmd.len = sizeof params;
  check(run(uapi::CtrlCmd::kSetParams, cmd), "SET_PARAMS");
}

void Control::start_device(unsigned dev_id, int daemon_pid) {
  ublksrv_ctrl_cmd cmd = header_for(dev_id);
  cmd.data[0] = static_cast<__u64>(daemon_pid);
  check(run(uapi::CtrlCmd::kStartDev, cmd), "START_DEV");
}

unsigned Control::register_shared_memory(unsigned dev_id, std::span<const std::byte> memory, bool read_only) {
  uapi::ShmemBufReg reg;
  reg.addr = reinterpret_cast<std::uintptr_t>(memory.data());
  reg.len = memory.size();
  reg.flags = read_only ? uapi::kShmemBufReadOnly : 0;
  ublksrv_ctrl_cmd cmd = header_for(dev_id);
  cmd.addr = reinterpret_cast<std::uintptr_t>(&reg);
  cmd.len = sizeof reg;
  const int res = run(uapi::CtrlCmd::kRegBuf, cmd);
  check(res, "REG_BUF");
  return static_cast<unsigned>(res);
}

std::error_code Control::unregister_shared_memory(unsigned dev_id, unsigned index) noexcept {
  ublksrv_ctrl_cmd cmd = header_for(dev_id);
  cmd.data[0] = index;
  const int res = run(uapi::CtrlCmd::kUnregBuf, cmd);
  return res < 0 ? std::error_code(-res, std::generic_category()) : std::error_code{};
}

void Control::start_user_recovery(unsigned dev_id) {
  check(run(uapi::CtrlCmd::kStartUserRecovery, header_for(dev_id)), "START_USER_RECOVERY");
}

void Control::end_user_recovery(unsigned dev_id, int daemon_pid) {
  ublksrv_ctrl_cmd cmd = header_for(dev_id);
  cmd.data[0] = static_cast<__u64>(daemon_pid);
  check(run(uapi::CtrlCmd::kEndUserRecovery, cmd), "END_USER_RECOVERY");
}

std::error_code Control::stop_device(unsigned dev_id) noexcept {
  const int res = run(uapi::CtrlCmd::kStopDev, header_for(dev_id));
  return res < 0 ? std::error_code(-res, std::generic_category()) : std::error_code{};
}

std::error_code Control::delete_device(unsigned dev_id) noexcept {
  const int res = run(uapi::CtrlCmd::kDelDev, header_for(dev_id));
  return res < 0 ? std::error_code(-res, std::generic_category()) : std::error_code{};
}

std::optional<DeviceInfo> Control::device_info(unsigned dev_id) noexcept {
  ublksrv_ctrl_dev_info info{};
  ublksrv_ctrl_cmd cmd = header_for(dev_id);
  cmd.addr = reinterpret_cast<std::uintptr_t>(&info);
  cmd.len = sizeof info;
  if (run(uapi::CtrlCmd::kGetDevInfo, cmd) < 0) return std::nullopt;
  return to_info(info);
}

BasicParams Control::params(unsigned dev_id) {
  ublk_params params{};
  params.len = sizeof params;
  ublksrv_ctrl_cmd cmd = header_for(dev_id);
  cmd.addr = reinterpret_cast<std::uintptr_t>(&params);
  cmd.len = sizeof params;
  if (const int res = run(uapi::CtrlCmd::kGetParams, cmd); res < 0) {
    throw std::system_error(-res, std::generic_category(), "GET_PARAMS of device " + std::to_string(dev_id));
  }
  BasicParams basic;
  basic.logical_block = 1U << params.basic.logical_bs_shift;
  basic.physical_block = 1U << params.basic.physical_bs_shift;
  basic.io_min = 1U << params.basic.io_min_shift;
  basic.io_opt = 1U << params.basic.io_opt_shift;
  basic.max_io_bytes = params.basic.max_sectors << 9;
  basic.capacity_bytes = std::uint64_t{params.basic.dev_sectors} << 9;
  return basic;
}

}  // namespace ublk
