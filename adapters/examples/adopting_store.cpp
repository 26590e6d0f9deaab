#include "adopting_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "ublk/unique_fd.hpp"

namespace example {

int AdoptingStore::write(std::uint64_t offset, std::span<std::byte> data) noexcept {
  // The adoption: a reference on the buffer the kernel wrote into. If the data is not in one
  // of our buffers (a copy-mode device), copy it into one, and count it.
  MessageRef ref = pool_.retain(data.data());
  const std::byte* bytes = data.data();
  bool copied = false;
  if (!ref) {
    auto buffer = pool_.acquire(data.size());
    if (!buffer) return -ENOMEM;
    std::memcpy(buffer->data, data.data(), data.size());
    ref = pool_.retain(buffer->data);
    (void)pool_.release(*buffer);
    bytes = ref.block();
    copied = true;
  }
  try {
    std::lock_guard lock(mutex_);
    held_.put(offset, data.size(), bytes, std::move(ref));
    copied_writes_ += copied;
  } catch (...) {
    return -ENOMEM;
  }
  return copied ? 1 : 0;
}

void AdoptingStore::read(std::uint64_t offset, std::span<std::byte> out) const noexcept {
  std::memset(out.data(), 0, out.size());
  std::lock_guard lock(mutex_);
  held_.overlay(offset, out);
}

void AdoptingStore::handle(const ublk::Request& request, ublk::Completion done) noexcept {
  using ublk::IoOp;
  if (request.offset + request.length > size_) return done(-EIO);
  switch (request.op) {
    case IoOp::kWrite: {
      const int rc = write(request.offset, request.data);
      if (rc < 0) return done(rc);
      return done(static_cast<int>(request.length), rc ? request.length : 0);
    }
    case IoOp::kRead:
      read(request.offset, request.data);
      return done(static_cast<int>(request.length));
    case IoOp::kFlush:
      return done(0);
    case IoOp::kDiscard:
    case IoOp::kWriteZeroes:
      try {
        std::lock_guard lock(mutex_);
        held_.punch(request.offset, request.length);
      } catch (...) {
        return done(-ENOMEM);
      }
      return done(0);
    default:
      return done(-EOPNOTSUPP);
  }
}

AdoptingStore::Audit AdoptingStore::audit() const {
  std::lock_guard lock(mutex_);
  Audit a;
  a.copied_writes = copied_writes_;
  for (const auto& [offset, seg] : held_.extents()) {
    ++a.segments;
    a.bytes += seg.length;
    const bool inside = seg.ref && pool_.owns(seg.data) && pool_.owns(seg.data + seg.length - 1) &&
                        seg.data >= seg.ref.block();
    a.outside_pool += !inside;
  }
  return a;
}

std::string AdoptingStore::dump(const std::string& path) const {
  ublk::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return "cannot create " + path + ": " + std::strerror(errno);
  std::vector<std::byte> chunk(1 << 20);
  for (std::uint64_t offset = 0; offset < size_; offset += chunk.size()) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), size_ - offset));
    read(offset, {chunk.data(), n});
    if (::pwrite(fd.get(), chunk.data(), n, static_cast<off_t>(offset)) != static_cast<ssize_t>(n))
      return "cannot write " + path + ": " + std::strerror(errno);
  }
  return {};
}

}  // namespace example
