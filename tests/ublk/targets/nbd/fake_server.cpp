#include "fake_server.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace ublk::nbd::testing {

std::optional<Misbehaviour> parse_misbehaviour(std::string_view name) noexcept {
  if (name == "none") return Misbehaviour::kNone;
  if (name == "bad-magic") return Misbehaviour::kBadMagic;
  if (name == "unknown-cookie") return Misbehaviour::kUnknownCookie;
  if (name == "short-reply") return Misbehaviour::kShortReply;
  if (name == "error-reply") return Misbehaviour::kErrorReply;
  if (name == "drop") return Misbehaviour::kDrop;
  if (name == "incomplete-read") return Misbehaviour::kIncompleteRead;
  return std::nullopt;
}

void FakeStore::write(std::uint64_t offset, const std::byte* data, std::size_t length) {
  std::lock_guard lock(mutex_);
  std::memcpy(bytes_.data() + offset, data, length);
}
void FakeStore::read(std::uint64_t offset, std::byte* out, std::size_t length) {
  std::lock_guard lock(mutex_);
  std::memcpy(out, bytes_.data() + offset, length);
}
void FakeStore::zero(std::uint64_t offset, std::size_t length) {
  std::lock_guard lock(mutex_);
  std::memset(bytes_.data() + offset, 0, length);
}

namespace {

bool read_exact(int fd, std::span<std::byte> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::recv(fd, out.data() + done, out.size() - done, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

bool write_all(int fd, std::span<const std::byte> in) {
  std::size_t done = 0;
  while (done < in.size()) {
    const ssize_t n = ::send(fd, in.data() + done, in.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

bool write_u64(int fd, std::uint64_t v) {
  std::array<std::byte, 8> b{};
  put_be64(b, v);
  return write_all(fd, b);
}

bool opt_reply(int fd, std::uint32_t option, OptReplyType type, std::span<const std::byte> payload = {}) {
  const auto header =
      encode_opt_reply_header({kOptReplyMagic, option, type, static_cast<std::uint32_t>(payload.size())});
  return write_all(fd, header) && write_all(fd, payload);
}

}  // namespace

std::optional<bool> serve_handshake(int fd, const FakeExport& ex) {
  if (!write_u64(fd, kNbdMagic)) return std::nullopt;
  if (ex.oldstyle) {
    write_u64(fd, kOldstyleMagic);
    return std::nullopt;
  }
  std::array<std::byte, 2> flags{};
  put_be16(flags, static_cast<std::uint16_t>((ex.fixed_newstyle ? kServerFixedNewstyle : 0) | kServerNoZeroes));
  if (!write_u64(fd, kOptMagic) || !write_all(fd, flags)) return std::nullopt;
  std::array<std::byte, 4> client{};
  if (!read_exact(fd, client)) return std::nullopt;
  const bool no_zeroes = get_be32(client) & kClientNoZeroes;

  bool structured = false;
  for (;;) {
    std::array<std::byte, kOptionHeaderSize> raw{};
    if (!read_exact(fd, raw)) return std::nullopt;
    const OptionHeader h = decode_option_header(raw);
    if (h.magic != kOptMagic || h.length > 4096) return std::nullopt;
    std::vector<std::byte> data(h.length);
    if (!read_exact(fd, data)) return std::nullopt;
    const auto option = static_cast<Option>(h.option);
    if (option == Option::kExportName) {
      const std::string name(reinterpret_cast<const char*>(data.data()), data.size());
      if (ex.tls_only || name != ex.name) return std::nullopt;  // the protocol's only answer: hang up
      std::array<std::byte, 10> reply{};
      put_be64(reply, ex.size);
      put_be16(std::span(reply).subspan(8), ex.flags);
      if (!write_all(fd, reply)) return std::nullopt;
      if (!no_zeroes && !write_all(fd, std::vector<std::byte>(kExportNamePadding))) return std::nullopt;
      return structured;
    }
    if (option == Option::kAbort) {
      opt_reply(fd, h.option, OptReplyType::kAck);
      return std::nullopt;
    }
    if (ex.tls_only || !ex.fixed_newstyle) {
      if (!opt_reply(fd, h.option, ex.tls_only ? OptReplyType::kErrTlsReqd : OptReplyType::kErrUnsup)) return std::nullopt;
      continue;
    }
    if (option == Option::kStructuredReply && ex.offer_structured) {
      structured = true;
      if (!opt_reply(fd, h.option, OptReplyType::kAck)) return std::nullopt;
      continue;
    }
    if ((option == Option::kGo || option == Option::kInfo) && ex.know_go) {
      const auto go = decode_go(data);
      if (!go) {
        if (!opt_reply(fd, h.option, OptReplyType::kErrInvalid)) return std::nullopt;
        continue;
      }
      if (go->export_name != ex.name) {
        const std::string why = "no such export";
        if (!opt_reply(fd, h.option, OptReplyType::kErrUnknown, std::as_bytes(std::span(why)))) return std::nullopt;
        continue;
      }
      if (!opt_reply(fd, h.option, OptReplyType::kInfo, encode_info_export({ex.size, ex.flags}))) return std::nullopt;
      const bool block_asked =
          std::find(go->wanted.begin(), go->wanted.end(), InfoType::kBlockSize) != go->wanted.end();
      if (block_asked && ex.send_block_size &&
          !opt_reply(fd, h.option, OptReplyType::kInfo, encode_info_block_size(ex.block))) {
        return std::nullopt;
      }
      if (!opt_reply(fd, h.option, OptReplyType::kAck)) return std::nullopt;
      if (option == Option::kGo) return structured;
      continue;
    }
    if (!opt_reply(fd, h.option, OptReplyType::kErrUnsup)) return std::nullopt;
  }
}

namespace {

struct Received {
  RequestHeader header;
};

bool has_more_input(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

// Replies to one request; false ends the connection.
bool reply(int fd, FakeStore& store, bool structured, bool split_reads, const RequestHeader& r, Misbehaviour wrong) {
  const bool read = r.command == Command::kRead;
  switch (wrong) {
    case Misbehaviour::kDrop: return false;
    case Misbehaviour::kBadMagic: {
      auto bad = encode_simple_reply({0, r.cookie});
      bad[0] = std::byte{0xde};
      write_all(fd, bad);
      return true;
    }
    case Misbehaviour::kUnknownCookie:
      write_all(fd, encode_simple_reply({0, r.cookie ^ 0x5a5a5a5a00000000ULL}));
      return true;
    case Misbehaviour::kErrorReply:
      if (structured) {
        const auto payload = encode_error_chunk({5, "injected error"});
        return write_all(fd, encode_chunk_header({kReplyFlagDone, ChunkType::kError, r.cookie,
                                                  static_cast<std::uint32_t>(payload.size())})) &&
               write_all(fd, payload);
      }
      return write_all(fd, encode_simple_reply({5, r.cookie}));
    default: break;
  }
  if (!read) {
    if (wrong == Misbehaviour::kShortReply) {
      const auto header = encode_simple_reply({0, r.cookie});
      write_all(fd, std::span(header).first(kSimpleReplySize / 2));
      return false;
    }
    return write_all(fd, encode_simple_reply({0, r.cookie}));
  }
  std::vector<std::byte> data(r.length);
  store.read(r.offset, data.data(), data.size());
  if (wrong == Misbehaviour::kShortReply) {
    if (structured) {
      write_all(fd, encode_chunk_header({kReplyFlagDone, ChunkType::kOffsetData, r.cookie,
                                         static_cast<std::uint32_t>(kOffsetDataPrefix + data.size())}));
      std::array<std::byte, 8> at{};
      put_be64(at, r.offset);
      write_all(fd, at);
    } else {
      write_all(fd, encode_simple_reply({0, r.cookie}));
    }
    write_all(fd, std::span(data).first(data.size() / 2));
    return false;
  }
  if (!structured) return write_all(fd, encode_simple_reply({0, r.cookie})) && write_all(fd, data);
  if (!split_reads) {
    return write_all(fd, encode_chunk_header({kReplyFlagDone, ChunkType::kOffsetData, r.cookie,
                                              static_cast<std::uint32_t>(kOffsetDataPrefix + data.size())})) &&
           write_all(fd, encode_offset_data(r.offset, data));
  }
  // Structured: the second half first, then the first half (holes where the data is zero),
  // then a NONE chunk with DONE; kIncompleteRead stops after the second half.
  const std::uint32_t half = r.length / 2;
  auto send_piece = [&](std::uint32_t from, std::uint32_t length, std::uint16_t flags) {
    if (length == 0) return true;
    const auto piece = std::span(data).subspan(from, length);
    const bool zero = std::all_of(piece.begin(), piece.end(), [](std::byte b) { return b == std::byte{0}; });
    if (zero) {
      return write_all(fd, encode_chunk_header({flags, ChunkType::kOffsetHole, r.cookie, kOffsetHoleSize})) &&
             write_all(fd, encode_offset_hole({r.offset + from, length}));
    }
    return write_all(fd, encode_chunk_header({flags, ChunkType::kOffsetData, r.cookie,
                                              static_cast<std::uint32_t>(kOffsetDataPrefix + length)})) &&
           write_all(fd, encode_offset_data(r.offset + from, piece));
  };
  if (!send_piece(half, r.length - half, 0)) return false;
  if (wrong == Misbehaviour::kIncompleteRead) {
    return write_all(fd, encode_chunk_header({kReplyFlagDone, ChunkType::kNone, r.cookie, 0}));
  }
  if (!send_piece(0, half, 0)) return false;
  return write_all(fd, encode_chunk_header({kReplyFlagDone, ChunkType::kNone, r.cookie, 0}));
}

}  // namespace

void serve_transmission(int fd, FakeStore& store, bool structured, Script& script) {
  std::vector<RequestHeader> batch;
  for (;;) {
    batch.clear();
    do {
      std::array<std::byte, kRequestHeaderSize> raw{};
      if (!read_exact(fd, raw)) return;
      const auto r = decode_request(raw);
      if (!r || r->command == Command::kDisconnect) return;
      if (r->length > (64U << 20) || r->offset > store.size() || r->length > store.size() - r->offset) return;
      if (r->command == Command::kWrite) {
        std::vector<std::byte> data(r->length);
        if (!read_exact(fd, data)) return;
        store.write(r->offset, data.data(), data.size());
      } else if (r->command == Command::kTrim || r->command == Command::kWriteZeroes) {
        store.zero(r->offset, r->length);
      }
      batch.push_back(*r);
    } while (script.reorder && batch.size() < 16 && has_more_input(fd));
    std::reverse(batch.begin(), batch.end());
    for (const auto& r : batch) {
      const Misbehaviour kind = script.misbehave.load();
      const unsigned after = script.after.load(), times = script.times.load();
      // A fault that only a READ can show counts READs only.
      const bool eligible = kind != Misbehaviour::kIncompleteRead || r.command == Command::kRead;
      const unsigned n = eligible ? script.requests.fetch_add(1) : after + times;
      const bool wrong_now = n >= after && n < after + times;
      if (!reply(fd, store, structured, script.split_reads.load(), r, wrong_now ? kind : Misbehaviour::kNone)) return;
    }
  }
}

}  // namespace ublk::nbd::testing
