#include "reply_receiver.hpp"

#include <algorithm>
#include <cstring>

namespace ublk::nbd {

ReplyReceiver::ReplyReceiver(bool structured, std::size_t staging_size)
    : reader_(structured),
      staging_(std::make_unique_for_overwrite<std::byte[]>(staging_size)),
      staging_size_(staging_size) {}

void ReplyReceiver::add_part(std::span<std::byte> where) noexcept {
  parts_[part_count_] = Part{where.data(), where.size(), 0, 0};
  iov_[part_count_] = iovec{where.data(), where.size()};
  ++part_count_;
}

std::span<iovec> ReplyReceiver::receive_into(const PendingReply* owed) noexcept {
  drop();
  part_count_ = 0;
  add_part(reader_.want());
  std::array<std::span<std::byte>, 3> usual;
  const std::size_t n = reader_.usual_parts(owed, usual);
  for (std::size_t i = 0; i < n; ++i) add_part(usual[i]);
  add_part({staging_.get(), staging_size_});
  part_at_ = 0;
  return {iov_.data(), part_count_};
}

void ReplyReceiver::received(std::size_t n) noexcept {
  for (std::size_t i = 0; i < part_count_ && n > 0; ++i) {
    Part& p = parts_[i];
    const std::size_t take = std::min(n, p.size - p.got);
    p.got += take;
    n -= take;
  }
}

ReplyEvent ReplyReceiver::next(ReplyLookup& lookup) {
  for (;;) {
    if (begin_ < end_) {
      ReplyEvent event = next_staged(lookup);
      if (event.kind != ReplyEvent::Kind::kMore) return event;
    }
    if (part_count_ == 0 || part_at_ > guided_parts()) return {};
    if (part_at_ < guided_parts()) {
      ReplyEvent event = next_guided(lookup);
      if (event.kind != ReplyEvent::Kind::kMore) return event;
      continue;
    }
    // The guided parts are parsed (or spilled, and the spill parsed): then the staging buffer.
    staged_ = staging_.get();
    begin_ = 0;
    end_ = parts_[part_count_ - 1].got;
    part_at_ = part_count_;
  }
}

ReplyEvent ReplyReceiver::next_guided(ReplyLookup& lookup) {
  while (part_at_ < guided_parts()) {
    Part& p = parts_[part_at_];
    if (p.used == p.got) {
      if (p.got < p.size) {  // the receive ended in this part
        part_at_ = part_count_;
        return {};
      }
      ++part_at_;
      continue;
    }
    const std::span<std::byte> want = reader_.want();
    if (want.data() != p.data + p.used) {
      spill_rest();
      return {};
    }
    const std::size_t n = std::min(want.size(), p.got - p.used);
    p.used += n;
    ReplyEvent event = reader_.received(n, lookup);
    if (event.kind == ReplyEvent::Kind::kBroken) drop();
    if (event.kind == ReplyEvent::Kind::kDone) settle();
    if (event.kind != ReplyEvent::Kind::kMore) return event;
  }
  return {};
}

void ReplyReceiver::settle() {
  while (part_at_ < guided_parts() && parts_[part_at_].used == parts_[part_at_].size) ++part_at_;
  if (part_at_ >= guided_parts()) return;
  const Part& p = parts_[part_at_];
  if (p.used < p.got && reader_.want().data() != p.data + p.used) spill_rest();
}

// Only the guided parts: they are the reader's or a request's memory. What is in the staging
// buffer stays there, to be parsed after the spill.
void ReplyReceiver::spill_rest() {
  spill_.clear();
  for (std::size_t i = part_at_; i < guided_parts(); ++i) {
    const Part& p = parts_[i];
    spill_.insert(spill_.end(), p.data + p.used, p.data + p.got);
  }
  part_at_ = guided_parts();
  staged_ = spill_.data();
  begin_ = 0;
  end_ = spill_.size();
}

ReplyEvent ReplyReceiver::next_staged(ReplyLookup& lookup) {
  while (begin_ < end_) {
    const std::span<std::byte> want = reader_.want();
    const std::size_t n = std::min(want.size(), end_ - begin_);
    std::memcpy(want.data(), staged_ + begin_, n);
    if (PendingReply* owner = reader_.payload_owner()) owner->copied += n;
    begin_ += n;
    ReplyEvent event = reader_.received(n, lookup);
    if (event.kind == ReplyEvent::Kind::kBroken) drop();
    if (event.kind != ReplyEvent::Kind::kMore) return event;
  }
  return {};
}

void ReplyReceiver::drop() noexcept {
  part_at_ = part_count_;
  staged_ = nullptr;
  begin_ = end_ = 0;
}

void ReplyReceiver::reset() noexcept {
  reader_.reset();
  drop();
  part_count_ = 0;
  part_at_ = 0;
}

void ReplyReceiver::reset(bool structured) noexcept {
  reset();
  reader_.reset(structured);
}

}  // namespace ublk::nbd
