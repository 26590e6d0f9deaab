#include "copy_strategy.hpp"

#include <stdexcept>
#include <string>

namespace ublk {

std::uint64_t CopyStrategy::fetch_address(TagSlot& slot) {
  if (!slot.buffer && !acquire(slot, res_.max_io)) {
    throw std::runtime_error("copy mode: the provider cannot give each tag its " + std::to_string(res_.max_io) +
                             "-byte buffer (lower DeviceConfig::depth or DeviceConfig::max_io_bytes, or raise the "
                             "provider's limit)");
  }
  return reinterpret_cast<std::uintptr_t>(slot.buffer.data);
}

int CopyStrategy::on_request(TagSlot& slot, std::span<std::byte>& data) noexcept {
  if (slot.moves_data() && res_.wants_data) data = {slot.buffer.data, slot.length()};
  if (slot.op() == uapi::IoOp::kWrite) res_.stats->kernel_copy_bytes += slot.length();
  return 0;
}

std::uint64_t CopyStrategy::on_done(TagSlot& slot, int& result) noexcept {
  if (slot.op() == uapi::IoOp::kRead && result > 0) res_.stats->kernel_copy_bytes += static_cast<unsigned>(result);
  return reinterpret_cast<std::uintptr_t>(slot.buffer.data);
}

}  // namespace ublk
