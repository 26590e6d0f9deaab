#pragma once
#include "buffer_strategy.hpp"

namespace ublk {

// UBLK_F_AUTO_BUF_REG: no provider buffer and no copy. Every FETCH_REQ and COMMIT_AND_FETCH_REQ
// names, in its SQE's addr (the command's own addr stays 0), the slot of the queue ring's buffer
// table where the kernel is to register the next request's own pages: the tag's number, so that a tag's slot is free again by the time its next
// request comes (the kernel empties it when it handles the commit). The target reads and writes
// those pages with READ_FIXED / WRITE_FIXED on the same ring. No fallback is asked for: a
// registration that fails fails its request in the kernel, and the daemon never sees it.
class ZeroCopyStrategy final : public BufferStrategy {
 public:
  explicit ZeroCopyStrategy(QueueResources& res) : BufferStrategy(res) {}
  [[nodiscard]] Mode mode() const noexcept override { return Mode::kZeroCopy; }
  std::uint64_t fetch_address(TagSlot&) override { return 0; }
  int on_request(TagSlot& slot, std::span<std::byte>& data) noexcept override;
  std::uint64_t on_done(TagSlot&, int& /*result*/) noexcept override { return 0; }
  [[nodiscard]] std::uint64_t sqe_addr(const TagSlot& slot) const noexcept override {
    return uapi::auto_buf_reg_addr(buffer_index(slot));
  }

  // The ring buffer-table slot of a tag's request pages; the queue registers `depth` slots.
  [[nodiscard]] static std::uint16_t buffer_index(const TagSlot& slot) noexcept {
    return static_cast<std::uint16_t>(slot.tag);
  }
};

}  // namespace ublk
