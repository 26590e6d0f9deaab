#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <sys/uio.h>
#include <vector>

#include "pool/buffer_provider.hpp"
#include "ublk/control.hpp"
#include "ublk/mode.hpp"
#include "ublk/recovery.hpp"
#include "ublk/shared_memory_registrar.hpp"
#include "ublk/stats.hpp"
#include "ublk/target.hpp"
#include "ublk/unique_fd.hpp"

namespace pool {
class SizeClassPool;
}

namespace ublk {

class Queue;
class QueueGroup;
class HandOffHome;
class SharedMemoryTable;

// What an IO does when the provider has no buffer for it.
enum class ExhaustionPolicy : std::uint8_t {
  kWait,  // park the tag and retry, bounded at 10 s, then fail
  kFail,  // complete the IO with -ENOMEM at once
};
std::optional<ExhaustionPolicy> parse_exhaustion_policy(std::string_view text) noexcept;
std::string_view to_string(ExhaustionPolicy policy) noexcept;

struct DeviceConfig {
  int id = -1;  // -1: the kernel picks
  unsigned queues = 1;
  unsigned depth = 128;
  std::uint64_t size_bytes = 1ULL << 30;
  std::uint32_t max_io_bytes = 1U << 20;
  std::uint32_t logical_block = 512;
  Mode mode = Mode::kGetData;  // concrete: resolve kAuto with choose_mode() first
  ExhaustionPolicy on_exhaustion = ExhaustionPolicy::kWait;
  RecoveryPolicy recovery = RecoveryPolicy::kNone;  // asked for at ADD_DEV
  // Take over device `id`, which waits for user recovery, instead of adding one. The shape
  // fields above must match the device (see inspect_for_recovery).
  bool take_over = false;
  // MAP_SHARED memory an application does O_DIRECT IO from (a hugetlbfs file, a memfd), kept
  // mapped by the caller while the device lives. Registered with REG_BUF (UBLK_F_SHMEM_ZC, Linux
  // 7.1+): a request whose pages lie in it reaches the target as a span of it, and the kernel
  // copies nothing; other IO goes the mode's way (counted as fallback).
  std::vector<std::span<std::byte>> shared_memory;
  // Ask for UBLK_F_SHMEM_ZC even with no shared_memory: memory is added while the device runs
  // (Device::add_shared_memory, a client's arena).
  bool shared_memory_clients = false;
  [[nodiscard]] bool wants_shared_memory() const noexcept { return !shared_memory.empty() || shared_memory_clients; }
  // The block layer's request timeout (queue/io_timeout); 0 keeps the kernel's 30 s. The kernel
  // restarts the timer of a live daemon's request, so it never fails IO a daemon still serves.
  // What it bounds: on 6.12 (7.3 acts at once), a daemon that dies while every tag of a
  // queue is in flight is noticed only when a request times out, and its IO (or, with a recovery
  // policy, the wait for a takeover) hangs until then.
  std::chrono::milliseconds io_timeout{0};
};

// One ublk device from ADD_DEV to DEL_DEV. start() adds it, sets its parameters, opens
// /dev/ublkcN, starts the queues and then START_DEV; any failure midway undoes what was done,
// so no device is left behind. With DeviceConfig::take_over, start() instead recovers a
// device whose daemon died: START_USER_RECOVERY, the queues, END_USER_RECOVERY; a failure
// there leaves the device waiting for recovery as it was. stop() is STOP_DEV, the queues drain
// the aborts, the char device is closed, DEL_DEV. The destructor stops a started device.
class Device final : public SharedMemoryRegistrar {
 public:
  Device(Control& control, DeviceConfig config, pool::BufferProvider& provider, Target& target);
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  void start();  // throws std::exception with a one-line message
  std::error_code stop() noexcept;

  [[nodiscard]] unsigned id() const noexcept { return dev_id_; }
  [[nodiscard]] std::string block_path() const { return "/dev/ublkb" + std::to_string(dev_id_); }
  [[nodiscard]] Features granted_flags() const noexcept { return granted_; }
  // true when the kernel aborted every queue's commands without our STOP_DEV: someone else
  // (`ublk-pool del`) stopped the device, and only our cleanup is left to do.
  [[nodiscard]] bool stopped_elsewhere() const noexcept;
  // A queue thread died (its ring or a command failed): "queue N: <cause>" of the first one. The
  // device cannot serve that queue's requests any more; stop() it.
  [[nodiscard]] std::optional<std::string> failure() const;
  // All queues' counters merged. Safe from any thread while the queues run; complete after
  // stop() (buffers a target still holds are counted until it drops them).
  [[nodiscard]] IoStats stats() const;
  // The same, queue by queue (index = queue id). Safe while the queues run; kept after stop().
  [[nodiscard]] std::vector<IoStats> queue_stats() const;

  // SharedMemoryRegistrar, for a started device with DeviceConfig::shared_memory_clients. Call
  // them from one thread (the control commands share a ring), never from a queue's.
  unsigned add_shared_memory(std::span<std::byte> memory, bool read_only) override;
  // UNREG_BUF (which waits for the requests in flight), then waits until no queue serves a
  // request from the memory; std::errc::timed_out if one still does after 30 s.
  std::error_code remove_shared_memory(unsigned index) noexcept override;

 private:
  void add_and_start();
  void take_over();
  void start_queues();
  void open_char_device();
  void wait_for_block_device() const;
  void apply_io_timeout() const;
  void tear_down() noexcept;
  void register_fixed_buffers();
  void register_shared_memory();

  Control& control_;
  DeviceConfig config_;
  pool::BufferProvider& provider_;
  Target& target_;
  unsigned dev_id_ = 0;
  bool added_ = false;
  bool started_ = false;
  bool deleted_elsewhere_ = false;
  Features granted_;
  UniqueFd char_fd_;
  std::unique_ptr<QueueGroup> group_;
  std::vector<iovec> fixed_buffers_;  // the pool's regions, registered on every queue's ring
  std::unique_ptr<SharedMemoryTable> shared_;
  std::vector<std::span<std::byte>> fixed_shared_;  // DeviceConfig::shared_memory by REG_BUF index  // the registered shared memory by REG_BUF index
  pool::SizeClassPool* fixed_pool_ = nullptr;
  mutable std::mutex queues_mutex_;  // queues_, stats_ and homes_ against stats() from elsewhere
  std::vector<std::unique_ptr<Queue>> queues_;
  std::vector<std::shared_ptr<HandOffHome>> homes_;  // every queue's, for buffers still held
  std::vector<IoStats> kept_;  // each queue's counters, kept when the queues are gone
};

}  // namespace ublk
