#pragma once
// The pool's only contact with the OS's memory calls: mapping and unmapping regions.
#include <cstddef>
#include <cstdint>

#include "pool/expected.hpp"

namespace pool::os {

inline constexpr std::size_t kHugePage2M = std::size_t{2} << 20;
inline constexpr std::size_t kHugePage1G = std::size_t{1} << 30;

// shared_hugetlb and shmem are memfds mapped MAP_SHARED (PoolConfig::shared).
enum class Backing : std::uint8_t { hugetlb_1g, hugetlb_2m, thp, small_pages, shared_hugetlb, shmem };

// One mmap()ed, populated range, and for shared memory the memfd behind it. Unmaps (and closes)
// itself.
class MappedRegion {
 public:
  MappedRegion() = default;
  MappedRegion(std::byte* data, std::size_t bytes, Backing backing, int fd = -1) noexcept
      : data_(data), bytes_(bytes), backing_(backing), fd_(fd) {}
  MappedRegion(MappedRegion&& other) noexcept { *this = static_cast<MappedRegion&&>(other); }
  MappedRegion& operator=(MappedRegion&& other) noexcept;
  ~MappedRegion();

  [[nodiscard]] std::byte* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t bytes() const noexcept { return bytes_; }
  [[nodiscard]] Backing backing() const noexcept { return backing_; }
  [[nodiscard]] int fd() const noexcept { return fd_; }  // -1 unless shared

 private:
  std::byte* data_ = nullptr;
  std::size_t bytes_ = 0;
  Backing backing_ = Backing::small_pages;
  int fd_ = -1;
};

// Each maps `bytes` (a multiple of 2 MiB, or of 1 GiB for hugetlb_1g) 2 MiB-aligned, with every
// page present when it returns, or fails with not_enough_memory. Nothing is left mapped on
// failure, and a hugetlb mapping fails here, never by SIGBUS at first touch.
Expected<MappedRegion> map_hugetlb(std::size_t bytes, bool one_gib) noexcept;
Expected<MappedRegion> map_thp(std::size_t bytes) noexcept;
Expected<MappedRegion> map_small_pages(std::size_t bytes) noexcept;

// A memfd of `bytes` mapped MAP_SHARED, 2 MiB-aligned and populated: with MFD_HUGETLB (2 MiB
// pages) when `hugetlb`, else shmem. Another process given the fd maps the same pages.
Expected<MappedRegion> map_shared(std::size_t bytes, bool hugetlb) noexcept;

// Whether the kernel honours MADV_HUGEPAGE (THP "always" or "madvise").
bool thp_available() noexcept;

}  // namespace pool::os
