#include "zero_copy_strategy.hpp"

#include <cerrno>

namespace ublk {

int ZeroCopyStrategy::on_request(TagSlot& slot, std::span<std::byte>& data) noexcept {
  data = {};
  if (!slot.moves_data()) return 0;
  // Only with UBLK_AUTO_BUF_REG_FALLBACK, which we never ask for; a kernel that sets it anyway
  // left the pages unregistered, and there is no other way to them in this mode.
  if (slot.desc.op_flags & uapi::kIoFlagNeedRegBuf) return -EIO;
  ++res_.stats->zero_copy_ios;
  res_.stats->zero_copy_bytes += slot.length();
  return 0;
}

}  // namespace ublk
