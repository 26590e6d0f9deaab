#pragma once
#include "buffer_strategy.hpp"

namespace ublk {

// The classic mode: every tag owns one max-IO-size buffer for the device's lifetime. The
// kernel copies WRITE data into it before the request reaches us and READ data out of it while
// it handles the commit; the buffer goes back only at shutdown, once the ring is gone.
class CopyStrategy final : public BufferStrategy {
 public:
  explicit CopyStrategy(QueueResources& res) : BufferStrategy(res) {}
  [[nodiscard]] Mode mode() const noexcept override { return Mode::kCopy; }
  std::uint64_t fetch_address(TagSlot& slot) override;
  int on_request(TagSlot& slot, std::span<std::byte>& data) noexcept override;
  std::uint64_t on_done(TagSlot& slot, int& result) noexcept override;
  // The tag's own buffer, for its next request.
  [[nodiscard]] std::uint64_t in_place_done_address(const TagSlot& slot) const noexcept override {
    return reinterpret_cast<std::uintptr_t>(slot.buffer.data);
  }
};

}  // namespace ublk
