#include "reply_receiver.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

namespace ublk::nbd {

ReplyReceiver::ReplyReceiver(bool structured, std::size_t staging_size, std::size_t direct_min)
    : reader_(structured),
      staging_(std::make_unique_for_overwrite<std::byte[]>(staging_size)),
      staging_size_(staging_size),
      direct_min_(direct_min) {}

std::span<std::byte> ReplyReceiver::receive_into() noexcept {
  const std::span<std::byte> want = reader_.want();
  direct_ = begin_ == end_ && want.size() >= direct_min_;
  if (direct_) return want;
  begin_ = end_ = 0;
  return {staging_.get(), staging_size_};
}

void ReplyReceiver::received(std::size_t n) noexcept {
  if (direct_) {
    direct_bytes_ += n;
  } else {
    end_ += n;
  }
}

ReplyEvent ReplyReceiver::next(ReplyLookup& lookup) {
  if (direct_bytes_ > 0) {
    const std::size_t n = std::exchange(direct_bytes_, 0);
    ReplyEvent event = reader_.received(n, lookup);
    if (event.kind != ReplyEvent::Kind::kMore) return event;
  }
  while (begin_ < end_) {
    const std::span<std::byte> want = reader_.want();
    const std::size_t n = std::min(want.size(), end_ - begin_);
    std::memcpy(want.data(), staging_.get() + begin_, n);
    if (PendingReply* owner = reader_.payload_owner()) owner->copied += n;
    begin_ += n;
    ReplyEvent event = reader_.received(n, lookup);
    if (event.kind == ReplyEvent::Kind::kBroken) begin_ = end_ = 0;
    if (event.kind != ReplyEvent::Kind::kMore) return event;
  }
  return {};
}

void ReplyReceiver::reset() noexcept {
  reader_.reset();
  begin_ = end_ = 0;
  direct_ = false;
  direct_bytes_ = 0;
}

void ReplyReceiver::reset(bool structured) noexcept {
  reset();
  reader_.reset(structured);
}

}  // namespace ublk::nbd
