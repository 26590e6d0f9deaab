#pragma once
#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "reply_reader.hpp"

namespace ublk::nbd {

// The receive side of a connection: one receive (a recvmsg) carries as many replies as have
// arrived, and next() parses them one event at a time. Pure, like ReplyReader: tests feed it any
// byte stream.
//
// A receive goes, in order, to what the reader certainly wants next (the rest of a payload goes
// straight into its request's buffer), then, when the server owes exactly one READ, to where
// that reply's parts go if it comes in the usual shape, then to a staging buffer for whatever
// else has arrived. A payload staged is copied to its request's buffer and counted in
// PendingReply::copied. A reply that did not come as guessed (an error, a hole, another order)
// costs one more copy of what followed it in that receive, and nothing else: the guess is only
// where bytes land, never what they mean.
class ReplyReceiver {
 public:
  // Holds a queue's worth of 4 KiB READ replies at depth 32 (32 x (4 KiB + 16 B) fits).
  static constexpr std::size_t kStagingSize = 128 * 1024;

  explicit ReplyReceiver(bool structured, std::size_t staging_size = kStagingSize);

  // Where the next receive goes, in order. Only once next() has returned kMore (everything
  // received parsed). `owed`: the one reply the server owes, when there is only one.
  [[nodiscard]] std::span<iovec> receive_into(const PendingReply* owed = nullptr) noexcept;
  // `n` bytes arrived where receive_into() pointed.
  void received(std::size_t n) noexcept;
  // The next reply finished (kDone), the stream broken (kBroken: what was received is dropped),
  // or kMore: everything received is parsed; receive again.
  ReplyEvent next(ReplyLookup& lookup);
  // A new connection: forget any reply half read and anything received.
  void reset() noexcept;
  void reset(bool structured) noexcept;

 private:
  // One iovec of a receive: `got` bytes arrived in it, the reader has taken `used` of them.
  struct Part {
    std::byte* data = nullptr;
    std::size_t size = 0;
    std::size_t got = 0;
    std::size_t used = 0;
  };
  static constexpr std::size_t kMaxParts = 5;  // want, three usual parts, staging

  void add_part(std::span<std::byte> where) noexcept;
  [[nodiscard]] std::size_t guided_parts() const noexcept { return part_count_ - 1; }  // all but the staging
  ReplyEvent next_guided(ReplyLookup& lookup);
  ReplyEvent next_staged(ReplyLookup& lookup);
  // Before a request completes (its buffer may be reused at once): bytes not yet parsed that sit
  // where the reader does not want them next are moved to spill_ and parsed from there.
  void settle();
  void spill_rest();
  void drop() noexcept;

  ReplyReader reader_;
  std::unique_ptr<std::byte[]> staging_;
  std::size_t staging_size_;
  std::array<Part, kMaxParts> parts_{};
  std::array<iovec, kMaxParts> iov_{};
  std::size_t part_count_ = 0;
  std::size_t part_at_ = 0;  // the first part not fully parsed
  // Received bytes parsed by copying (the staging buffer, or spill_): [begin_, end_) of staged_.
  const std::byte* staged_ = nullptr;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  std::vector<std::byte> spill_;
};

}  // namespace ublk::nbd
