#pragma once
#include "buffer_strategy.hpp"

namespace ublk {

// UBLK_F_NEED_GET_DATA: a WRITE first comes back as UBLK_IO_RES_NEED_GET_DATA; we acquire
// exactly nr_sectors << 9 bytes and hand that address over with NEED_GET_DATA, and the kernel
// copies the data in while it handles that command. A READ gets its buffer when it arrives; the
// kernel copies the READ data out of the address carried by COMMIT_AND_FETCH_REQ.
//
// When each buffer goes back to the provider, and why the kernel can no longer touch it then:
//  - WRITE: as soon as the target is done, before the commit. The kernel copied the data in
//    before it completed NEED_GET_DATA; the commit carries the sink, not this buffer; and the
//    tag's next request cannot write into an old address: a WRITE asks for a new one
//    (NEED_GET_DATA), a READ is only copied out of the address of its own commit.
//  - READ: right after the io_uring_enter() that submitted its COMMIT_AND_FETCH_REQ returns.
//    ublk accepts IO commands only from the queue's own task and handles a commit inline
//    while that task submits it (ublk_ch_uring_cmd -> commit -> __ublk_complete_rq ->
//    ublk_unmap_io copies into the bio), so once the submit call is back the copy is done.
//    We never set IOSQE_ASYNC or links, so the command is never punted to io-wq. The safe but
//    costlier alternative, the tag's next CQE, would hold the buffer until the next request.
class GetDataStrategy final : public BufferStrategy {
 public:
  explicit GetDataStrategy(QueueResources& res) : BufferStrategy(res) {}
  [[nodiscard]] Mode mode() const noexcept override { return Mode::kGetData; }
  // The sink: some kernels (6.1) insist on a non-NULL FETCH address even with NEED_GET_DATA,
  // and with NEED_GET_DATA neither a WRITE nor a READ is ever copied through it.
  std::uint64_t fetch_address(TagSlot& slot) override;
  std::uint64_t need_data_address(TagSlot& slot, bool may_wait) noexcept override;
  int on_request(TagSlot& slot, std::span<std::byte>& data) noexcept override;
  std::uint64_t on_done(TagSlot& slot, int& result) noexcept override;
  // The request's own span, as NEED_GET_DATA was answered.
  [[nodiscard]] std::uint64_t in_place_done_address(const TagSlot& slot) const noexcept override {
    return reinterpret_cast<std::uintptr_t>(slot.shared.data());
  }
};

}  // namespace ublk
