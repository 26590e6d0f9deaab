#include "adopting_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "ublk/unique_fd.hpp"

namespace example {

void AdoptingStore::punch(std::uint64_t offset, std::uint64_t length) {
  const std::uint64_t end = offset + length;
  auto it = segments_.lower_bound(offset);
  if (it != segments_.begin()) {
    auto prev = std::prev(it);
    if (prev->first + prev->second.length > offset) it = prev;
  }
  while (it != segments_.end() && it->first < end) {
    const std::uint64_t seg_start = it->first;
    const std::uint64_t seg_end = seg_start + it->second.length;
    Segment seg = std::move(it->second);
    it = segments_.erase(it);
    if (seg_start < offset) {  // the part before stays, sharing the buffer
      segments_.emplace(seg_start, Segment{offset - seg_start, seg.data, seg.ref.share()});
    }
    if (seg_end > end) {  // the part after stays
      it = segments_.emplace(end, Segment{seg_end - end, seg.data + (end - seg_start), seg.ref.share()}).first;
      ++it;
    }
  }
}

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
    punch(offset, data.size());
    segments_.emplace(offset, Segment{data.size(), bytes, std::move(ref)});
    copied_writes_ += copied;
  } catch (...) {
    return -ENOMEM;
  }
  return copied ? 1 : 0;
}

void AdoptingStore::read(std::uint64_t offset, std::span<std::byte> out) const noexcept {
  std::memset(out.data(), 0, out.size());
  const std::uint64_t end = offset + out.size();
  std::lock_guard lock(mutex_);
  auto it = segments_.lower_bound(offset);
  if (it != segments_.begin()) --it;
  for (; it != segments_.end() && it->first < end; ++it) {
    const std::uint64_t from = std::max(offset, it->first);
    const std::uint64_t to = std::min(end, it->first + it->second.length);
    if (from >= to) continue;
    std::memcpy(out.data() + (from - offset), it->second.data + (from - it->first), to - from);
  }
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
        punch(request.offset, request.length);
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
  for (const auto& [offset, seg] : segments_) {
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
