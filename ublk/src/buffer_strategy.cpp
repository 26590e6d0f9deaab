#include "buffer_strategy.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "copy_strategy.hpp"
#include "get_data_strategy.hpp"
#include "user_copy_strategy.hpp"
#include "zero_copy_strategy.hpp"

namespace ublk {

std::uint64_t BufferStrategy::need_data_address(TagSlot& slot, bool /*may_wait*/) noexcept {
  // Only get_data devices see UBLK_IO_RES_NEED_GET_DATA; anything else is a kernel surprise.
  slot.pending_error = -EIO;
  return sink_address();
}

void BufferStrategy::on_retire(TagSlot& slot) noexcept { release(slot); }

bool BufferStrategy::acquire(TagSlot& slot, std::size_t length) noexcept {
  ++res_.stats->acquires;
  auto got = res_.cache->acquire(length);
  if (!got) {
    ++res_.stats->acquire_failures;
    return false;
  }
  slot.buffer = *got;
  return true;
}

void BufferStrategy::release(TagSlot& slot) noexcept {
  if (slot.buffer) {
    if (res_.returns) {
      res_.returns->give_back(slot.buffer);
    } else {
      (void)res_.cache->release(slot.buffer);
    }
  }
  slot.buffer = {};
}

std::unique_ptr<BufferStrategy> make_strategy(Mode mode, QueueResources& resources) {
  switch (mode) {
    case Mode::kCopy: return std::make_unique<CopyStrategy>(resources);
    case Mode::kGetData: return std::make_unique<GetDataStrategy>(resources);
    case Mode::kUserCopy: return std::make_unique<UserCopyStrategy>(resources);
    case Mode::kZeroCopy: return std::make_unique<ZeroCopyStrategy>(resources);
    case Mode::kAuto: break;
  }
  throw std::invalid_argument("make_strategy: resolve Mode::kAuto first");
}

}  // namespace ublk
