#pragma once
#include <cstdint>
#include <string>

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
class MemTarget final : public Target {
 public:
  // kPrivate maps now; the named stores map in on_device_added, when the name is known.
  explicit MemTarget(std::uint64_t size_bytes, MemStore store = MemStore::kPrivate,
                     std::string dir = kDefaultMemStoreDir);  // throws std::system_error
  [[nodiscard]] std::string_view name() const noexcept override { return "mem"; }
  void handle(const Request& request, Completion done) noexcept override;
  void on_device_added(unsigned dev_id) override;
  void on_device_deleted() noexcept override;

  [[nodiscard]] std::uint64_t size() const noexcept { return size_; }
  [[nodiscard]] const std::string& store_path() const noexcept { return path_; }  // empty: private

 private:
  void map_store();
  int discard(std::uint64_t offset, std::uint64_t length) noexcept;

  std::uint64_t size_;
  MemStore store_;
  std::string dir_;
  std::string path_;
  UniqueFd fd_;
  Mapping data_;
};

}  // namespace ublk
