#include "mem_target.hpp"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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

MemTarget::MemTarget(std::uint64_t size_bytes, MemStore store, std::string dir, std::uint64_t hold_bytes)
    : size_(size_bytes), store_(store), dir_(std::move(dir)), hold_budget_(store == MemStore::kPrivate ? hold_bytes : 0) {
  if (store_ != MemStore::kPrivate) return;
  fd_.reset(::memfd_create("ublk-pool-mem", MFD_CLOEXEC));
  if (!fd_) fail("memfd_create");
  if (::ftruncate(fd_.get(), static_cast<off_t>(size_)) != 0) fail("ftruncate of the mem target's memfd");
  map_store();
}

MemTarget::~MemTarget() {
  std::lock_guard lock(held_mutex_);
  held_.clear();  // the held buffers go back to their queues or providers
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
  std::lock_guard lock(held_mutex_);
  held_.clear();  // the data died with the device: the held buffers go back now
}

void MemTarget::map_store() {
  data_ = Mapping::map(size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd_.get(), 0,
                       "of the mem target's store");
}

int MemTarget::discard(std::uint64_t offset, std::uint64_t length) noexcept {
  if (hold_budget_) {
    try {
      std::lock_guard lock(held_mutex_);
      held_.punch(offset, length);
    } catch (...) {
      return -ENOMEM;
    }
  }
  // Punching a hole frees the pages and reads back zeros, which is what DISCARD and
  // WRITE_ZEROES promise here.
  if (::fallocate(fd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                  static_cast<off_t>(length)) == 0) {
    return 0;
  }
  std::memset(data_.bytes() + offset, 0, length);
  return 0;
}

void MemTarget::write(const Request& request, Completion& done) noexcept {
  const std::uint64_t length = request.length;
  if (hold_budget_ && !request.in_shared_memory && held_bytes_.load(std::memory_order_relaxed) + length <= hold_budget_) {
    if (pool::OwnedBuffer buffer = done.take_buffer()) {
      const std::byte* bytes = buffer.data();
      held_bytes_.fetch_add(buffer.size(), std::memory_order_relaxed);
      try {
        auto held = std::make_shared<Held>(std::move(buffer), held_bytes_);
        std::lock_guard lock(held_mutex_);
        held_.put(request.offset, length, bytes, std::move(held));
      } catch (...) {
        return done(-ENOMEM);
      }
      return done(static_cast<int>(length));
    }
  }
  if (hold_budget_) {
    try {
      std::lock_guard lock(held_mutex_);
      held_.punch(request.offset, length);
    } catch (...) {
      return done(-ENOMEM);
    }
  }
  std::memcpy(data_.bytes() + request.offset, request.data.data(), length);
  if (request.in_shared_memory) shmem_copied_bytes_.fetch_add(length, std::memory_order_relaxed);
  done(static_cast<int>(length), length);
}

std::vector<TargetCounter> MemTarget::counters() const {
  return {{"shmem_copied_bytes", shmem_copied_bytes()}};
}

void MemTarget::read(const Request& request) noexcept {
  std::memcpy(request.data.data(), data_.bytes() + request.offset, request.length);
  if (!hold_budget_) return;
  std::lock_guard lock(held_mutex_);
  held_.overlay(request.offset, request.data.first(request.length));
}

void MemTarget::handle(const Request& request, Completion done) noexcept {
  if (request.offset > size_ || request.length > size_ - request.offset) return done(-EIO);
  switch (request.op) {
    case IoOp::kRead:
      if (!request.data.empty()) read(request);
      return done(static_cast<int>(request.length));
    case IoOp::kWrite:
      if (request.data.empty()) return done(static_cast<int>(request.length));
      return write(request, done);
    case IoOp::kFlush:
      return done(0);
    case IoOp::kDiscard:
    case IoOp::kWriteZeroes:
      return done(discard(request.offset, request.length));
    default:
      return done(-EOPNOTSUPP);
  }
}

}  // namespace ublk
