#include "ublk/mem_target.hpp"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace ublk {

namespace {
[[noreturn]] void fail(const std::string& what) { throw std::system_error(errno, std::generic_category(), what); }
}  // namespace

std::string mem_store_path(const std::string& dir, unsigned dev_id) {
  return dir + "/ublk-pool-mem-" + std::to_string(dev_id);
}

MemTarget::MemTarget(std::uint64_t size_bytes, MemStore store, std::string dir)
    : size_(size_bytes), store_(store), dir_(std::move(dir)) {
  if (store_ != MemStore::kPrivate) return;
  fd_.reset(::memfd_create("ublk-pool-mem", MFD_CLOEXEC));
  if (!fd_) fail("memfd_create");
  if (::ftruncate(fd_.get(), static_cast<off_t>(size_)) != 0) fail("ftruncate of the mem target's memfd");
  map_store();
}

void MemTarget::on_device_added(unsigned dev_id) {
  if (store_ == MemStore::kPrivate) return;
  const std::string path = mem_store_path(dir_, dev_id);
  if (store_ == MemStore::kNamed) {
    // The device number was free, so a file of that name is left from an older device: replace it.
    fd_.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd_) fail("create the mem store " + path);
    path_ = path;
    if (::ftruncate(fd_.get(), static_cast<off_t>(size_)) != 0) fail("ftruncate " + path);
  } else {
    fd_.reset(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    if (!fd_) fail("open the mem store " + path + " of the crashed daemon");
    struct stat st {};
    if (::fstat(fd_.get(), &st) != 0) fail("fstat " + path);
    if (static_cast<std::uint64_t>(st.st_size) != size_) {
      errno = EINVAL;
      fail(path + " holds " + std::to_string(st.st_size) + " bytes, the device " + std::to_string(size_));
    }
    path_ = path;
  }
  map_store();
}

void MemTarget::on_device_deleted() noexcept {
  if (!path_.empty()) ::unlink(path_.c_str());
  path_.clear();
}

void MemTarget::map_store() {
  data_ = Mapping::map(size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd_.get(), 0,
                       "of the mem target's store");
}

int MemTarget::discard(std::uint64_t offset, std::uint64_t length) noexcept {
  // Punching a hole frees the pages and reads back zeros, which is what DISCARD and
  // WRITE_ZEROES promise here.
  if (::fallocate(fd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
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
