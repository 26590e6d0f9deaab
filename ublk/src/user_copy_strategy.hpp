#pragma once
#include "buffer_strategy.hpp"

namespace ublk {

// UBLK_F_USER_COPY: the kernel never touches our memory. We pread() a WRITE's data from
// /dev/ublkcN at the tag's offset into a buffer of the request's size, and pwrite() a READ's
// data there before the commit. Both calls are synchronous, so a buffer goes back as soon as
// the data has moved; commits carry address 0, as the kernel requires.
class UserCopyStrategy final : public BufferStrategy {
 public:
  explicit UserCopyStrategy(QueueResources& res) : BufferStrategy(res) {}
  [[nodiscard]] Mode mode() const noexcept override { return Mode::kUserCopy; }
  std::uint64_t fetch_address(TagSlot&) override { return 0; }
  int on_request(TagSlot& slot, std::span<std::byte>& data) noexcept override;
  std::uint64_t on_done(TagSlot& slot, int& result) noexcept override;

 private:
  [[nodiscard]] std::uint64_t offset_of(const TagSlot& slot) const noexcept;
};

}  // namespace ublk
