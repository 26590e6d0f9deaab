#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pool/owned_buffer.hpp"
#include "ublk/held_extents.hpp"
#include "ublk/mapping.hpp"
#include "ublk/target.hpp"
#include "ublk/unique_fd.hpp"

namespace ublk {

// Where a MemTarget keeps its data.
enum class MemStore : std::uint8_t {
  kPrivate,  // a memfd: the data dies with the daemon
  kNamed,    // a new file <dir>/ublk-pool-mem-<dev id>: it outlives a crash, for a takeover
  kAdopt,    // the kNamed file a crashed daemon left for this device (user recovery)
};

// The named store of device `dev_id` in `dir`.
std::string mem_store_path(const std::string& dir, unsigned dev_id);
inline constexpr const char* kDefaultMemStoreDir = "/dev/shm";

// A RAM disk. The data lives in a shared file mapping, never on the daemon's heap: with a named
// store, everything a WRITE acknowledged survives a SIGKILL of the daemon, and the next daemon
// (`ublk-pool-mem --recover N`) maps the same pages. The named file is removed with the device.
//
// With a private store and a hold budget, a WRITE's data is not copied: the target takes the
// request's buffer (Completion::take_buffer) and keeps it, up to `hold_bytes` of buffers; reads
// see those buffers over the store. Past the budget, or where the mode cannot hand a buffer over
// (copy), WRITEs are copied into the store. A named store always copies: its data must be in the
// file when the daemon dies. A WRITE in an application's shared memory (Request::in_shared_memory)
// is always copied, and counted (shmem_copied_bytes): the application owns those pages.
class MemTarget final : public Target {
 public:
  // kPrivate maps now; the named stores map in on_device_added, when the name is known.
  explicit MemTarget(std::uint64_t size_bytes, MemStore store = MemStore::kPrivate,
                     std::string dir = kDefaultMemStoreDir, std::uint64_t hold_bytes = 0);  // throws std::system_error
  ~MemTarget() override;
  [[nodiscard]] std::string_view name() const noexcept override { return "mem"; }
  void handle(const Request& request, Completion done) noexcept override;
  void on_device_added(unsigned dev_id) override;
  void on_device_deleted() noexcept override;
  [[nodiscard]] std::vector<TargetCounter> counters() const override;

  [[nodiscard]] std::uint64_t size() const noexcept { return size_; }
  [[nodiscard]] const std::string& store_path() const noexcept { return path_; }  // empty: private
  // Bytes of request buffers the target holds now.
  [[nodiscard]] std::uint64_t held_bytes() const noexcept { return held_bytes_.load(std::memory_order_relaxed); }
  // Bytes of WRITEs in shared memory copied into the store.
  [[nodiscard]] std::uint64_t shmem_copied_bytes() const noexcept {
    return shmem_copied_bytes_.load(std::memory_order_relaxed);
  }

 private:
  // A buffer taken from a request; its bytes leave the budget when the last segment drops it.
  struct Held {
    Held(pool::OwnedBuffer b, std::atomic<std::uint64_t>& counter) noexcept : buffer(std::move(b)), held(counter) {}
    ~Held() { held.fetch_sub(buffer.size(), std::memory_order_relaxed); }
    pool::OwnedBuffer buffer;
    std::atomic<std::uint64_t>& held;
  };

  void map_store();
  int discard(std::uint64_t offset, std::uint64_t length) noexcept;
  void write(const Request& request, Completion& done) noexcept;
  void read(const Request& request) noexcept;

  std::uint64_t size_;
  MemStore store_;
  std::string dir_;
  std::string path_;
  UniqueFd fd_;
  Mapping data_;
  std::uint64_t hold_budget_;
  std::atomic<std::uint64_t> held_bytes_{0};
  std::atomic<std::uint64_t> shmem_copied_bytes_{0};
  std::mutex held_mutex_;
  HeldExtents<std::shared_ptr<Held>> held_;  // by device offset; guarded by held_mutex_
};

}  // namespace ublk
