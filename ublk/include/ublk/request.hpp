#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

namespace ublk {

// What a request asks for (the kernel's UBLK_IO_OP_* numbers).
enum class IoOp : std::uint8_t {
  kRead = 0,
  kWrite = 1,
  kFlush = 2,
  kDiscard = 3,
  kWriteSame = 4,
  kWriteZeroes = 5,
};
// Request::flags: force unit access (UBLK_IO_F_FUA).
inline constexpr std::uint32_t kIoFlagFua = 1U << 13;

// One block request as a target sees it.
struct Request {
  IoOp op = IoOp::kRead;
  std::uint32_t flags = 0;     // UBLK_IO_F_* (FUA, ...)
  std::uint64_t offset = 0;    // bytes from the start of the device
  std::uint32_t length = 0;    // bytes
  // WRITE: the data, already in a provider buffer. READ: where to put the data. Empty for ops
  // without data, and for a target that said it needs no data.
  std::span<std::byte> data;
  // When `data` lies in pool memory registered as io_uring fixed buffers on this queue's ring:
  // the buffer index for RingIo::read_fixed / write_fixed (addresses stay data.data()). -1: none.
  int fixed_buffer = -1;
  // Mode::kZeroCopy: the data is in no user-space memory. `data` is empty and fixed_buffer is the
  // slot where the kernel registered the request's own pages, addressed by byte offset into the
  // request (RingIo::read_registered / write_registered).
  bool registered_pages = false;
  // `data` is the application's own pages, shared with the daemon (UBLK_F_SHMEM_ZC): the
  // application reuses them once the request completes, so a target that keeps WRITE data past
  // its completion must copy it; no buffer can be taken (Completion::take_buffer).
  bool in_shared_memory = false;
  unsigned queue = 0;
  unsigned tag = 0;
};

}  // namespace ublk
