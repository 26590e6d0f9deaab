#include "user_copy_strategy.hpp"

#include <unistd.h>

#include <cerrno>

namespace ublk {

namespace {
// pread/pwrite until done, tolerating short transfers; bytes moved or -errno.
template <class Syscall>
long transfer(Syscall&& call, std::byte* buf, std::size_t length, std::uint64_t offset) noexcept {
  std::size_t done = 0;
  while (done < length) {
    const ssize_t n = call(buf + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return static_cast<long>(done);
}
}  // namespace

std::uint64_t UserCopyStrategy::offset_of(const TagSlot& slot) const noexcept {
  return uapi::user_copy_offset(res_.q_id, slot.tag);
}

int UserCopyStrategy::on_request(TagSlot& slot, std::span<std::byte>& data) noexcept {
  if (!slot.moves_data() || !res_.wants_data) return 0;
  if (!acquire(slot, slot.length())) return -ENOMEM;
  data = {slot.buffer.data, slot.length()};
  if (slot.op() != uapi::IoOp::kWrite) return 0;
  const int fd = res_.char_fd;
  const long got = transfer([fd](std::byte* b, std::size_t n, off_t o) { return ::pread(fd, b, n, o); },
                            slot.buffer.data, slot.length(), offset_of(slot));
  if (got < 0) return static_cast<int>(got);
  res_.stats->kernel_copy_bytes += static_cast<std::uint64_t>(got);
  return got == static_cast<long>(slot.length()) ? 0 : -EIO;
}

std::uint64_t UserCopyStrategy::on_done(TagSlot& slot, int& result) noexcept {
  if (slot.op() == uapi::IoOp::kRead && slot.buffer && result > 0) {
    const int fd = res_.char_fd;
    const long put = transfer([fd](std::byte* b, std::size_t n, off_t o) { return ::pwrite(fd, b, n, o); },
                              slot.buffer.data, static_cast<std::size_t>(result), offset_of(slot));
    if (put < 0) {
      result = static_cast<int>(put);
    } else {
      res_.stats->kernel_copy_bytes += static_cast<std::uint64_t>(put);
      if (put != result) result = -EIO;
    }
  }
  release(slot);  // pread/pwrite are synchronous: the kernel is done with the buffer
  return 0;
}

}  // namespace ublk
