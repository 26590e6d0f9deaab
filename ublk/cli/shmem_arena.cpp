#include "shmem_arena.hpp"

#include <fcntl.h>
#include <linux/memfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <string>
#include <system_error>

namespace ublk::cli {

namespace {
constexpr std::size_t kHugePage = std::size_t{2} << 20;
constexpr std::size_t kPage = 4096;
constexpr std::size_t round_up(std::size_t n, std::size_t to) noexcept { return (n + to - 1) / to * to; }

std::optional<SharedArena> try_hugetlb(std::size_t bytes) noexcept {
  const std::size_t size = round_up(bytes, kHugePage);
  UniqueFd fd(::memfd_create("ublkpool-arena-hugetlb", MFD_CLOEXEC | MFD_HUGETLB | MFD_HUGE_2MB));
  if (!fd || ::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) return std::nullopt;
  // mmap reserves the huge pages: no free ones, no mapping.
  void* at = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd.get(), 0);
  if (at == MAP_FAILED) return std::nullopt;
  return SharedArena{std::move(fd), Mapping(at, size), true};
}
}  // namespace

SharedArena SharedArena::create(std::size_t bytes) {
  if (auto arena = try_hugetlb(bytes)) return std::move(*arena);
  const std::size_t size = round_up(bytes, kPage);
  UniqueFd fd(::memfd_create("ublkpool-arena-shmem", MFD_CLOEXEC));
  if (!fd) throw std::system_error(errno, std::generic_category(), "memfd_create");
  // fallocate: shmem past its limit fails here instead of by SIGBUS at first touch.
  if (const int error = ::posix_fallocate(fd.get(), 0, static_cast<off_t>(size)); error != 0) {
    throw std::system_error(error, std::generic_category(), "allocating a " + std::to_string(size) + "-byte shmem arena");
  }
  Mapping mapping = Mapping::map(size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd.get(), 0, "of a shmem arena");
  return SharedArena{std::move(fd), std::move(mapping), false};
}

}  // namespace ublk::cli
