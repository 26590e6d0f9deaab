#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>

#include "ublk/features.hpp"
#include "ublk/unique_fd.hpp"

struct ublksrv_ctrl_cmd;  // <linux/ublk_cmd.h>, private to the library

namespace ublk {

class Ring;
namespace uapi {
enum class CtrlCmd : std::uint8_t;
}

// Limits of the ublk interface.
inline constexpr unsigned kMaxQueueDepth = 4096;
inline constexpr std::size_t kMaxIoBytes = std::size_t{32} << 20;

// A device's state, as the kernel reports it.
enum class DeviceState : std::uint16_t {
  kDead = 0,      // added or stopped: no block device
  kLive = 1,
  kQuiesced = 2,  // its daemon died; it waits for user recovery
  kFailIo = 3,    // the same, failing IO meanwhile (RecoveryPolicy::kFailIo)
};

// What GET_DEV_INFO says about a device.
struct DeviceInfo {
  unsigned id = 0;
  unsigned queues = 0;
  unsigned depth = 0;
  std::uint32_t max_io_bytes = 0;
  Features flags;
  int daemon_pid = -1;
  DeviceState state = DeviceState::kDead;
};

inline constexpr const char* kControlPath = "/dev/ublk-control";

// /dev/ublk-control does not exist: this kernel has no ublk driver loaded.
class ControlUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What GET_FEATURES said, and how to talk to this kernel.
struct KernelFeatures {
  Features features;
  bool reported = false;  // false: the kernel predates GET_FEATURES; `features` is assumed
  bool encoded = false;   // use the ioctl-encoded opcodes (UBLK_F_CMD_IOCTL_ENCODE)
};

struct AddRequest {
  int id = -1;  // -1: the kernel picks
  unsigned queues = 1;
  unsigned depth = 128;
  std::uint32_t max_io_bytes = 1U << 20;
  std::uint64_t flags = 0;
};

struct BasicParams {
  std::uint32_t logical_block = 512;
  std::uint32_t physical_block = 4096;
  std::uint32_t io_min = 4096;
  std::uint32_t io_opt = 0;  // 0: max IO size
  std::uint32_t max_io_bytes = 1U << 20;
  std::uint64_t capacity_bytes = 0;
  std::uint32_t attrs = 0;  // uapi::kAttrVolatileCache, uapi::kAttrFua
  // 0: no such requests (the discard parameters are sent only when one is set)
  std::uint32_t max_discard_bytes = 0;
  std::uint32_t max_write_zeroes_bytes = 0;
  std::uint32_t discard_granularity = 0;
};

// The ublk control device: one SQE128 io_uring carrying URING_CMDs to /dev/ublk-control.
// Control commands are setup, so they throw std::system_error; stop and delete return an
// error_code because they also run on cleanup paths.
class Control {
 public:
  Control();  // throws ControlUnavailable, std::system_error
  ~Control();
  Control(const Control&) = delete;
  Control& operator=(const Control&) = delete;

  // GET_FEATURES: the ioctl-encoded opcode first, then the legacy one. A kernel with neither
  // (before 6.5) is assumed to have the 6.1 set: NEED_GET_DATA and recovery, legacy opcodes.
  const KernelFeatures& features();

  DeviceInfo add_device(const AddRequest& request);
  void set_params(unsigned dev_id, const BasicParams& params);
  BasicParams params(unsigned dev_id);  // GET_PARAMS
  void start_device(unsigned dev_id, int daemon_pid);
  std::error_code stop_device(unsigned dev_id) noexcept;
  // User recovery of a quiesced device: START before the new daemon opens /dev/ublkcN, END
  // once every tag has a FETCH_REQ outstanding (it makes the device live again).
  void start_user_recovery(unsigned dev_id);
  void end_user_recovery(unsigned dev_id, int daemon_pid);
  std::error_code delete_device(unsigned dev_id) noexcept;
  std::optional<DeviceInfo> device_info(unsigned dev_id) noexcept;
  // UBLK_F_SHMEM_ZC (7.1+): pins MAP_SHARED memory for the device and answers its index; the
  // kernel then skips its copy for O_DIRECT IO from those pages. DEL_DEV unpins them.
  unsigned register_shared_memory(unsigned dev_id, std::span<const std::byte> memory, bool read_only);
  // UNREG_BUF: unpins buffer `index`. The kernel freezes the device's queue around it, so it
  // returns once the requests in flight (on any buffer) have completed: the queue threads must
  // keep serving meanwhile.
  std::error_code unregister_shared_memory(unsigned dev_id, unsigned index) noexcept;

 private:
  // One command; returns the CQE result (>= 0 or -errno).
  int run(uapi::CtrlCmd cmd, const ublksrv_ctrl_cmd& payload) noexcept;
  int run_with_opcode(std::uint32_t opcode, const ublksrv_ctrl_cmd& payload) noexcept;

  UniqueFd fd_;
  std::unique_ptr<Ring> ring_;
  std::optional<KernelFeatures> features_;
};

}  // namespace ublk
