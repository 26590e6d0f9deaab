#include "fixed_buffer_table.hpp"

namespace ublk {

FixedBufferTable::FixedBufferTable(unsigned base, std::span<const std::span<std::byte>> shared) : base_(base) {
  shared_.reserve(shared.size());
  for (const auto& region : shared) {
    const bool usable = !region.empty() && region.size() <= kMaxFixedBufferBytes;
    shared_.push_back(usable ? iovec{region.data(), region.size()} : iovec{nullptr, 0});
  }
}

std::optional<unsigned> FixedBufferTable::shared_slot(unsigned index) const noexcept {
  if (index >= shared_.size() || shared_[index].iov_base == nullptr) return std::nullopt;
  return base_ + index;
}

}  // namespace ublk
