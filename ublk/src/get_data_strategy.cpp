#include "get_data_strategy.hpp"

#include <cerrno>

namespace ublk {

std::uint64_t GetDataStrategy::fetch_address(TagSlot&) { return sink_address(); }

std::uint64_t GetDataStrategy::need_data_address(TagSlot& slot, bool may_wait) noexcept {
  // The kernel accepts nothing but NEED_GET_DATA for this tag now (a COMMIT is refused while
  // it waits), and it copies the whole request wherever we point it. Without a buffer (no-data
  // target, or provider exhaustion) the data goes to the sink and is never read.
  std::uint64_t addr = sink_address();
  if (res_.wants_data) {
    if (acquire(slot, slot.length())) {
      addr = reinterpret_cast<std::uintptr_t>(slot.buffer.data);
    } else if (may_wait) {
      return 0;  // the queue retries once buffers come back
    } else {
      slot.pending_error = -ENOMEM;
    }
  }
  ++res_.stats->get_data;
  res_.stats->kernel_copy_bytes += slot.length();
  return addr;
}

int GetDataStrategy::on_request(TagSlot& slot, std::span<std::byte>& data) noexcept {
  switch (slot.op()) {
    case uapi::IoOp::kWrite:
      if (slot.buffer) data = {slot.buffer.data, slot.length()};
      return 0;
    case uapi::IoOp::kRead:
      if (!res_.wants_data) return 0;
      if (!acquire(slot, slot.length())) return -ENOMEM;
      data = {slot.buffer.data, slot.length()};
      return 0;
    default:
      return 0;
  }
}

std::uint64_t GetDataStrategy::on_done(TagSlot& slot, int& result) noexcept {
  if (slot.op() == uapi::IoOp::kRead && slot.buffer && result > 0) {
    res_.stats->kernel_copy_bytes += static_cast<unsigned>(result);
    const auto addr = reinterpret_cast<std::uintptr_t>(slot.buffer.data);
    res_.release_after_submit->push_back(slot.buffer);  // the kernel copies out during submit
    slot.buffer = {};
    return addr;
  }
  // A WRITE's data was copied in before NEED_GET_DATA completed; a failed READ is not copied.
  release(slot);
  return sink_address();
}

}  // namespace ublk
