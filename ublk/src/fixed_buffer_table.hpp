#pragma once
// The layout of a queue ring's io_uring fixed-buffer table, where more than one kind of memory is
// registered: the pool's regions (their indexes are the pool's FixedBufferRef::buf_index) or, in
// zero_copy, one sparse slot per tag (slot = tag); then the shared-memory regions (UBLK_F_SHMEM_ZC),
// by their REG_BUF index. shared_slot() is the one place that maps a shared region to its slot,
// so regions added at runtime only have to extend the table behind `shared_base`.

#include <sys/uio.h>

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

namespace ublk {

class FixedBufferTable {
 public:
  FixedBufferTable() = default;
  // Shared regions behind `base` slots (the pool's regions, or zero_copy's tag slots).
  FixedBufferTable(unsigned base, std::span<const std::span<std::byte>> shared);

  // The slot of shared region `index` (its REG_BUF index), or nullopt when it has none: not
  // registered, or too large for a fixed buffer (io_uring takes at most 1 GiB each).
  [[nodiscard]] std::optional<unsigned> shared_slot(unsigned index) const noexcept;
  // The shared regions' table entries, from slot shared_base() on: unusable ones as sparse
  // entries (null, 0), which keep the slots of those behind them.
  [[nodiscard]] const std::vector<iovec>& shared_entries() const noexcept { return shared_; }
  [[nodiscard]] unsigned shared_base() const noexcept { return base_; }

 private:
  unsigned base_ = 0;
  std::vector<iovec> shared_;
};

// io_uring's limit on one registered buffer.
inline constexpr std::size_t kMaxFixedBufferBytes = std::size_t{1} << 30;

}  // namespace ublk
