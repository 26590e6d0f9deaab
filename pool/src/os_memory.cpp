#include "os_memory.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <linux/mman.h>
#include <utility>

namespace pool::os {

MappedRegion& MappedRegion::operator=(MappedRegion&& other) noexcept {
  if (this != &other) {
    if (data_) ::munmap(data_, bytes_);
    if (fd_ >= 0) ::close(fd_);
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
    backing_ = other.backing_;
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

MappedRegion::~MappedRegion() {
  if (data_) ::munmap(data_, bytes_);
  if (fd_ >= 0) ::close(fd_);
}

namespace {
constexpr int kAnonymous = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;

std::error_code last_error() {
  return errno == ENOMEM || errno == EAGAIN ? std::make_error_code(std::errc::not_enough_memory)
                                            : std::error_code(errno, std::system_category());
}

// A 2 MiB-aligned anonymous mapping: map one huge page more, cut off both ends.
std::byte* map_aligned(std::size_t bytes) noexcept {
  void* raw = ::mmap(nullptr, bytes + kHugePage2M, PROT_READ | PROT_WRITE, kAnonymous, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  auto start = reinterpret_cast<std::uintptr_t>(raw);
  auto aligned = (start + kHugePage2M - 1) & ~(kHugePage2M - 1);
  if (aligned > start) ::munmap(raw, aligned - start);
  std::size_t tail = start + bytes + kHugePage2M - (aligned + bytes);
  if (tail) ::munmap(reinterpret_cast<void*>(aligned + bytes), tail);
  return reinterpret_cast<std::byte*>(aligned);
}

// Makes every page present now, so that buffers never fault on first use.
bool populate(std::byte* data, std::size_t bytes) noexcept {
  if (::madvise(data, bytes, MADV_POPULATE_WRITE) == 0) return true;
  if (errno != EINVAL) return false;
  // Kernels before 5.14 lack MADV_POPULATE_WRITE: touch each page instead.
  for (std::size_t off = 0; off < bytes; off += 4096) reinterpret_cast<volatile char*>(data)[off] = 0;
  return true;
}

Expected<MappedRegion> map_advised(std::size_t bytes, int advice, Backing backing) noexcept {
  std::byte* data = map_aligned(bytes);
  if (!data) return last_error();
  MappedRegion region(data, bytes, backing);
  if (::madvise(data, bytes, advice) != 0) return last_error();
  if (!populate(data, bytes)) return last_error();
  return region;
}
}  // namespace

Expected<MappedRegion> map_hugetlb(std::size_t bytes, bool one_gib) noexcept {
  // Without MAP_NORESERVE the kernel reserves the huge pages at mmap() time, and MAP_POPULATE
  // faults them in: an empty hugetlb pool fails right here.
  int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE |
              (one_gib ? MAP_HUGE_1GB : MAP_HUGE_2MB);
  void* raw = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, flags, -1, 0);
  if (raw == MAP_FAILED) return last_error();
  return MappedRegion(static_cast<std::byte*>(raw), bytes,
                      one_gib ? Backing::hugetlb_1g : Backing::hugetlb_2m);
}

Expected<MappedRegion> map_thp(std::size_t bytes) noexcept {
  return map_advised(bytes, MADV_HUGEPAGE, Backing::thp);
}

Expected<MappedRegion> map_small_pages(std::size_t bytes) noexcept {
  return map_advised(bytes, MADV_NOHUGEPAGE, Backing::small_pages);
}

Expected<MappedRegion> map_shared(std::size_t bytes, bool hugetlb) noexcept {
  // MFD_HUGE_2MB has MAP_HUGE_2MB's value (both HUGETLB_FLAG_ENCODE_2MB); glibc lacks the former.
  const unsigned flags = MFD_CLOEXEC | (hugetlb ? MFD_HUGETLB | unsigned{MAP_HUGE_2MB} : 0U);
  const int fd = ::memfd_create(hugetlb ? "ublkpool-hugetlb" : "ublkpool-shmem", flags);
  if (fd < 0) return last_error();
  // A 2 MiB-aligned anonymous reservation that the memfd's mapping replaces in place.
  std::byte* at = ::ftruncate(fd, static_cast<off_t>(bytes)) == 0 ? map_aligned(bytes) : nullptr;
  if (!at) {
    const std::error_code error = last_error();
    ::close(fd);
    return error;
  }
  // The region owns both from here: a failure below unmaps and closes.
  MappedRegion region(at, bytes, hugetlb ? Backing::shared_hugetlb : Backing::shmem, fd);
  // For hugetlb, mmap reserves the huge pages (no MAP_NORESERVE) and MAP_POPULATE faults them
  // in, so an empty hugetlb pool fails here, not by SIGBUS at first touch.
  if (::mmap(at, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_POPULATE, fd, 0) == MAP_FAILED) {
    return last_error();
  }
  // MAP_POPULATE reports nothing: shmem past its limit would SIGBUS at first touch instead.
  if (!hugetlb && !populate(at, bytes)) return last_error();
  return region;
}

bool thp_available() noexcept {
  static const bool available = [] {
    std::FILE* f = std::fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!f) return false;
    char line[128] = {};
    bool ok = std::fgets(line, sizeof line, f) && std::strstr(line, "[never]") == nullptr;
    std::fclose(f);
    return ok;
  }();
  return available;
}

}  // namespace pool::os
