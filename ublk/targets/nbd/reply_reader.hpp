#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "protocol.hpp"

namespace ublk::nbd {

// What the reply reader needs of one request in flight, and its progress through a
// structured reply (kept here so that a reply may interleave with others' chunks).
struct PendingReply {
  Command command = Command::kRead;
  std::uint64_t offset = 0;
  std::uint32_t length = 0;
  std::span<std::byte> data;  // a READ's destination: `length` bytes
  std::uint64_t covered = 0;  // READ bytes received or known as holes
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;  // [begin, end) of `data` covered
  int error = 0;  // -errno of the first error chunk
  std::uint64_t copied = 0;  // payload bytes copied in user space to `data` (ReplyReceiver)

  void reset_progress() noexcept {
    covered = 0;
    ranges.clear();
    error = 0;
  }
};

class ReplyLookup {
 public:
  virtual ~ReplyLookup() = default;
  // The request in flight under `cookie`, or nullptr.
  virtual PendingReply* find(std::uint64_t cookie) noexcept = 0;
};

struct ReplyEvent {
  enum class Kind : std::uint8_t {
    kMore,    // nothing finished; receive into want() again
    kDone,    // the request under `cookie` has its whole reply: `result` is 0 or -errno
    kBroken,  // the stream cannot be trusted any more (`why`): drop the connection
  };
  Kind kind = Kind::kMore;
  std::uint64_t cookie = 0;
  int result = 0;
  std::string why;
};

// Parses the server's reply stream incrementally without copying READ payloads: want() names
// where the next bytes belong (a header field, or the request's own buffer), received() takes
// what arrived there. Pure: no socket, so tests feed it any byte stream in any pieces.
// A READ completes with 0 only when every byte of it was received (or reported as a hole).
class ReplyReader {
 public:
  explicit ReplyReader(bool structured) noexcept : structured_(structured) { reset(); }
  // want() points into the reader itself.
  ReplyReader(const ReplyReader&) = delete;
  ReplyReader& operator=(const ReplyReader&) = delete;

  // Where the next bytes go; never empty.
  [[nodiscard]] std::span<std::byte> want() noexcept { return target_.subspan(filled_); }
  ReplyEvent received(std::size_t n, ReplyLookup& lookup);
  // The request whose payload want() is (its own buffer), or nullptr for a header or a chunk's
  // payload kept by the reader.
  [[nodiscard]] PendingReply* payload_owner() const noexcept {
    return step_ == Step::kSimpleData || step_ == Step::kChunkData ? current_ : nullptr;
  }
  // Where the bytes after want() go if the reply under way comes in the usual shape (a simple
  // reply, or one OFFSET_DATA chunk for a whole READ): the header's tail, the data offset and the
  // payload, each where the reader will want it then. Before the reply's cookie has arrived it
  // can only be `owed`'s, the one reply the server owes (or nullptr: nothing to say). Returns how
  // many parts it wrote; none when nothing follows want() in that shape.
  std::size_t usual_parts(const PendingReply* owed, std::span<std::span<std::byte>, 3> out) noexcept;
  // A new connection: forget any reply half read.
  void reset() noexcept;
  void reset(bool structured) noexcept {
    structured_ = structured;
    reset();
  }

 private:
  enum class Step : std::uint8_t { kHeader, kChunkTail, kSimpleData, kDataOffset, kChunkData, kChunkPayload };
  void expect(Step step, std::span<std::byte> where) noexcept;
  ReplyEvent on_header(ReplyLookup& lookup);
  ReplyEvent on_chunk_header(ReplyLookup& lookup);
  ReplyEvent on_data_offset();
  ReplyEvent on_payload();
  ReplyEvent end_chunk();
  // Marks [begin, end) of the current READ covered; false when outside it or overlapping.
  bool cover(std::uint64_t device_offset, std::uint64_t length);
  ReplyEvent broken(std::string why);

  bool structured_;
  Step step_ = Step::kHeader;
  std::span<std::byte> target_;
  std::size_t filled_ = 0;
  std::array<std::byte, kStructuredReplySize> header_{};
  std::array<std::byte, kOffsetDataPrefix> data_offset_{};
  std::vector<std::byte> payload_;  // a hole's or an error's payload
  ChunkHeader chunk_;
  std::uint64_t cookie_ = 0;
  PendingReply* current_ = nullptr;
};

}  // namespace ublk::nbd
