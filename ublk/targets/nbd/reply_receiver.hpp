#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "reply_reader.hpp"

namespace ublk::nbd {

// The receive side of a connection, batched: one recv into a staging buffer carries as many
// replies as have arrived, and next() parses them one event at a time. Payload bytes that came in
// the staging buffer are copied to the request's buffer (and counted in PendingReply::copied); a
// rest of at least `direct_min` bytes is received straight into where the reader wants it, so a
// large READ is not copied. Pure, like ReplyReader: tests feed it any byte stream.
class ReplyReceiver {
 public:
  // Holds a queue's worth of 4 KiB READ replies at depth 32 (32 x (4 KiB + 16 B) fits).
  static constexpr std::size_t kStagingSize = 128 * 1024;
  // Below this a rest costs less to copy than a receive of its own round trip would.
  static constexpr std::size_t kDirectMin = 32 * 1024;

  explicit ReplyReceiver(bool structured, std::size_t staging_size = kStagingSize,
                         std::size_t direct_min = kDirectMin);

  // Where the next recv goes. Only once next() has returned kMore (everything staged parsed).
  [[nodiscard]] std::span<std::byte> receive_into() noexcept;
  // `n` bytes arrived where receive_into() pointed.
  void received(std::size_t n) noexcept;
  // The next reply finished (kDone), the stream broken (kBroken: what was staged is dropped),
  // or kMore: everything received is parsed; receive again.
  ReplyEvent next(ReplyLookup& lookup);
  // A new connection: forget any reply half read and anything staged.
  void reset() noexcept;
  void reset(bool structured) noexcept;

 private:
  ReplyReader reader_;
  std::unique_ptr<std::byte[]> staging_;
  std::size_t staging_size_;
  std::size_t direct_min_;
  std::size_t begin_ = 0;  // staged bytes not parsed yet: [begin_, end_)
  std::size_t end_ = 0;
  bool direct_ = false;         // the last receive_into() was the reader's own target
  std::size_t direct_bytes_ = 0;  // received there, not yet handed to the reader
};

}  // namespace ublk::nbd
