#include "reply_reader.hpp"

#include <cerrno>
#include <cstring>

namespace ublk::nbd {

namespace {
// An error chunk carries a message of at most 64 KiB; nothing legitimate is larger.
constexpr std::uint32_t kMaxChunkPayload = kErrorPrefix + 8 + 65535;
}  // namespace

void ReplyReader::reset() noexcept {
  current_ = nullptr;
  expect(Step::kHeader, std::span(header_).first(kSimpleReplySize));
}

std::size_t ReplyReader::usual_parts(const PendingReply* owed, std::span<std::span<std::byte>, 3> out) noexcept {
  const auto whole_read = [](const PendingReply* r) {
    return r && r->command == Command::kRead && !r->data.empty() && r->ranges.empty();
  };
  switch (step_) {
    case Step::kHeader:
      if (!whole_read(owed)) return 0;
      if (!structured_) {
        out[0] = owed->data;
        return 1;
      }
      out[0] = std::span(header_).subspan(kSimpleReplySize);
      out[1] = std::span(data_offset_);
      out[2] = owed->data;
      return 3;
    case Step::kChunkTail:
      if (!whole_read(owed)) return 0;
      out[0] = std::span(data_offset_);
      out[1] = owed->data;
      return 2;
    case Step::kDataOffset:
      // The chunk's cookie is known: its READ, if this one chunk carries all of it.
      if (!whole_read(current_) || chunk_.length - kOffsetDataPrefix != current_->length) return 0;
      out[0] = current_->data;
      return 1;
    default: return 0;
  }
}

void ReplyReader::expect(Step step, std::span<std::byte> where) noexcept {
  step_ = step;
  target_ = where;
  filled_ = 0;
}

ReplyEvent ReplyReader::broken(std::string why) {
  reset();
  return ReplyEvent{ReplyEvent::Kind::kBroken, 0, 0, std::move(why)};
}

ReplyEvent ReplyReader::received(std::size_t n, ReplyLookup& lookup) {
  filled_ += n;
  if (filled_ < target_.size()) return {};
  switch (step_) {
    case Step::kHeader: return on_header(lookup);
    case Step::kChunkTail: return on_chunk_header(lookup);
    case Step::kSimpleData: {
      const std::uint64_t cookie = cookie_;
      current_->covered = current_->length;
      reset();
      return ReplyEvent{ReplyEvent::Kind::kDone, cookie, 0, {}};
    }
    case Step::kDataOffset: return on_data_offset();
    case Step::kChunkData: return end_chunk();
    case Step::kChunkPayload: return on_payload();
  }
  return broken("reply reader in an unknown state");
}

ReplyEvent ReplyReader::on_header(ReplyLookup& lookup) {
  switch (reply_kind(std::span(header_).first<4>())) {
    case ReplyKind::kBadMagic: return broken("bad reply magic");
    case ReplyKind::kStructured:
      if (!structured_) return broken("a structured reply, which was not negotiated");
      expect(Step::kChunkTail, std::span(header_).subspan(kSimpleReplySize));
      return {};
    case ReplyKind::kSimple: break;
  }
  const SimpleReply reply = decode_simple_reply(std::span(header_).first<kSimpleReplySize>());
  PendingReply* pending = lookup.find(reply.cookie);
  if (!pending) return broken("a reply for unknown cookie " + std::to_string(reply.cookie));
  if (pending->command == Command::kRead && reply.error == 0 && pending->length > 0) {
    if (!pending->ranges.empty()) return broken("a simple reply in the middle of a structured one");
    cookie_ = reply.cookie;
    current_ = pending;
    expect(Step::kSimpleData, pending->data.first(pending->length));
    return {};
  }
  reset();
  const int result = reply.error ? -errno_from_nbd(reply.error) : 0;
  return ReplyEvent{ReplyEvent::Kind::kDone, reply.cookie, result, {}};
}

ReplyEvent ReplyReader::on_chunk_header(ReplyLookup& lookup) {
  chunk_ = decode_chunk_header(header_);
  current_ = lookup.find(chunk_.cookie);
  if (!current_) return broken("a reply chunk for unknown cookie " + std::to_string(chunk_.cookie));
  cookie_ = chunk_.cookie;
  const bool read = current_->command == Command::kRead;
  switch (chunk_.type) {
    case ChunkType::kNone:
      if (chunk_.length != 0 || !chunk_.done()) return broken("a malformed NBD_REPLY_TYPE_NONE chunk");
      return end_chunk();
    case ChunkType::kOffsetData:
      if (!read || chunk_.length <= kOffsetDataPrefix) return broken("a malformed OFFSET_DATA chunk");
      expect(Step::kDataOffset, data_offset_);
      return {};
    case ChunkType::kOffsetHole:
      if (!read || chunk_.length != kOffsetHoleSize) return broken("a malformed OFFSET_HOLE chunk");
      break;
    case ChunkType::kError:
    case ChunkType::kErrorOffset:
      if (chunk_.length < kErrorPrefix || chunk_.length > kMaxChunkPayload) return broken("a malformed error chunk");
      break;
    default:
      if (!is_error_chunk(chunk_.type)) {
        return broken("an unexpected reply chunk type " + std::to_string(static_cast<unsigned>(chunk_.type)));
      }
      if (chunk_.length < kErrorPrefix || chunk_.length > kMaxChunkPayload) return broken("a malformed error chunk");
      break;
  }
  payload_.resize(chunk_.length);
  expect(Step::kChunkPayload, payload_);
  return {};
}

bool ReplyReader::cover(std::uint64_t device_offset, std::uint64_t length) {
  if (device_offset < current_->offset) return false;
  const std::uint64_t begin = device_offset - current_->offset;
  if (begin > current_->length || length > current_->length - begin) return false;
  const std::uint64_t end = begin + length;
  for (const auto& [b, e] : current_->ranges) {
    if (begin < e && b < end) return false;
  }
  current_->ranges.emplace_back(begin, end);
  current_->covered += length;
  return true;
}

ReplyEvent ReplyReader::on_data_offset() {
  const std::uint64_t at = get_be64(data_offset_);
  const std::uint64_t length = chunk_.length - kOffsetDataPrefix;
  if (!cover(at, length)) return broken("an OFFSET_DATA chunk outside its READ or overlapping another");
  expect(Step::kChunkData, current_->data.subspan(at - current_->offset, length));
  return {};
}

ReplyEvent ReplyReader::on_payload() {
  if (chunk_.type == ChunkType::kOffsetHole) {
    const HoleChunk hole = decode_offset_hole(std::span(payload_).first<kOffsetHoleSize>());
    if (hole.length == 0 || !cover(hole.offset, hole.length)) {
      return broken("an OFFSET_HOLE chunk outside its READ or overlapping another");
    }
    std::memset(current_->data.data() + (hole.offset - current_->offset), 0, hole.length);
    return end_chunk();
  }
  const auto error = decode_error_chunk(payload_);
  if (!error) return broken("a malformed error chunk");
  if (current_->error == 0) current_->error = -errno_from_nbd(error->error ? error->error : 5);
  return end_chunk();
}

ReplyEvent ReplyReader::end_chunk() {
  PendingReply& pending = *current_;
  const std::uint64_t cookie = cookie_;
  const bool done = chunk_.done();
  reset();
  if (!done) return {};
  int result = pending.error;
  // A READ that the server ended without sending all of it fails: its buffer holds gaps.
  if (result == 0 && pending.command == Command::kRead && pending.covered != pending.length) result = -EIO;
  return ReplyEvent{ReplyEvent::Kind::kDone, cookie, result, {}};
}

}  // namespace ublk::nbd
