#include "ublk/mem_target.hpp"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace ublk {

MemTarget::MemTarget(std::uint64_t size_bytes) : size_(size_bytes) {
  memfd_.reset(::memfd_create("ublk-pool-mem", MFD_CLOEXEC));
  if (!memfd_) throw std::system_error(errno, std::generic_category(), "memfd_create");
  if (::ftruncate(memfd_.get(), static_cast<off_t>(size_bytes)) != 0) {
    throw std::system_error(errno, std::generic_category(), "ftruncate of the mem target's memfd");
  }
  data_ = Mapping::map(size_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, memfd_.get(), 0,
                       "of the mem target's memfd");
}

int MemTarget::discard(std::uint64_t offset, std::uint64_t length) noexcept {
  // Punching a hole frees the pages and reads back zeros, which is what DISCARD and
  // WRITE_ZEROES promise here.
  if (::fallocate(memfd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                  static_cast<off_t>(length)) == 0) {
    return 0;
  }
  std::memset(data_.bytes() + offset, 0, length);
  return 0;
}

void MemTarget::handle(const Request& request, Completion done) noexcept {
  if (request.offset > size_ || request.length > size_ - request.offset) return done(-EIO);
  std::byte* here = data_.bytes() + request.offset;
  switch (request.op) {
    case uapi::IoOp::kRead:
      if (!request.data.empty()) std::memcpy(request.data.data(), here, request.length);
      return done(static_cast<int>(request.length));
    case uapi::IoOp::kWrite:
      if (request.data.empty()) return done(static_cast<int>(request.length));
      std::memcpy(here, request.data.data(), request.length);
      return done(static_cast<int>(request.length), request.length);
    case uapi::IoOp::kFlush:
      return done(0);
    case uapi::IoOp::kDiscard:
    case uapi::IoOp::kWriteZeroes:
      return done(discard(request.offset, request.length));
    default:
      return done(-EOPNOTSUPP);
  }
}

}  // namespace ublk
