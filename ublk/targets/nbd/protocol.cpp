#include "protocol.hpp"

#include <cerrno>
#include <cstring>

namespace ublk::nbd {

std::string_view to_string(OptReplyType type) noexcept {
  switch (type) {
    case OptReplyType::kAck: return "ACK";
    case OptReplyType::kServer: return "SERVER";
    case OptReplyType::kInfo: return "INFO";
    case OptReplyType::kMetaContext: return "META_CONTEXT";
    case OptReplyType::kErrUnsup: return "unsupported option";
    case OptReplyType::kErrPolicy: return "refused by the server's policy";
    case OptReplyType::kErrInvalid: return "invalid request";
    case OptReplyType::kErrPlatform: return "not supported on the server's platform";
    case OptReplyType::kErrTlsReqd: return "TLS required";
    case OptReplyType::kErrUnknown: return "unknown export";
    case OptReplyType::kErrShutdown: return "server shutting down";
    case OptReplyType::kErrBlockSizeReqd: return "block size constraints required";
    case OptReplyType::kErrTooBig: return "request too big";
  }
  return "unknown reply type";
}

std::string describe_transmission_flags(std::uint16_t flags) {
  std::string out;
  auto add = [&](std::uint16_t bit, std::string_view name) {
    if (!(flags & bit)) return;
    if (!out.empty()) out += ',';
    out += name;
  };
  add(tflag::kReadOnly, "read-only");
  add(tflag::kSendFlush, "flush");
  add(tflag::kSendFua, "fua");
  add(tflag::kSendTrim, "trim");
  add(tflag::kSendWriteZeroes, "write-zeroes");
  add(tflag::kCanMultiConn, "multi-conn");
  add(tflag::kRotational, "rotational");
  return out.empty() ? "none" : out;
}

int errno_from_nbd(std::uint32_t nbd_error) noexcept {
  switch (nbd_error) {
    case 1: return EPERM;
    case 5: return EIO;
    case 12: return ENOMEM;
    case 22: return EINVAL;
    case 28: return ENOSPC;
    case 75: return EOVERFLOW;
    case 95: return EOPNOTSUPP;
    case 108: return ESHUTDOWN;
    default: return EIO;
  }
}

// ---- big-endian fields ----

namespace {
template <class T>
void put_be(std::span<std::byte> out, T v) noexcept {
  for (std::size_t i = 0; i < sizeof(T); ++i) out[sizeof(T) - 1 - i] = static_cast<std::byte>(v >> (8 * i));
}
template <class T>
T get_be(std::span<const std::byte> in) noexcept {
  T v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>((v << 8) | std::to_integer<T>(in[i]));
  return v;
}
// An append-only big-endian message builder.
class Writer {
 public:
  Writer& u16(std::uint16_t v) { return put(v); }
  Writer& u32(std::uint32_t v) { return put(v); }
  Writer& u64(std::uint64_t v) { return put(v); }
  Writer& bytes(std::span<const std::byte> b) {
    out_.insert(out_.end(), b.begin(), b.end());
    return *this;
  }
  Writer& text(std::string_view s) { return bytes(std::as_bytes(std::span(s.data(), s.size()))); }
  std::vector<std::byte> take() { return std::move(out_); }

 private:
  template <class T>
  Writer& put(T v) {
    const std::size_t at = out_.size();
    out_.resize(at + sizeof(T));
    put_be<T>(std::span(out_).subspan(at), v);
    return *this;
  }
  std::vector<std::byte> out_;
};
}  // namespace

void put_be16(std::span<std::byte> out, std::uint16_t v) noexcept { put_be(out, v); }
void put_be32(std::span<std::byte> out, std::uint32_t v) noexcept { put_be(out, v); }
void put_be64(std::span<std::byte> out, std::uint64_t v) noexcept { put_be(out, v); }
std::uint16_t get_be16(std::span<const std::byte> in) noexcept { return get_be<std::uint16_t>(in); }
std::uint32_t get_be32(std::span<const std::byte> in) noexcept { return get_be<std::uint32_t>(in); }
std::uint64_t get_be64(std::span<const std::byte> in) noexcept { return get_be<std::uint64_t>(in); }

// ---- transmission ----

std::array<std::byte, kRequestHeaderSize> encode_request(const RequestHeader& h) noexcept {
  std::array<std::byte, kRequestHeaderSize> out{};
  std::span<std::byte> s(out);
  put_be32(s, kRequestMagic);
  put_be16(s.subspan(4), h.flags);
  put_be16(s.subspan(6), static_cast<std::uint16_t>(h.command));
  put_be64(s.subspan(8), h.cookie);
  put_be64(s.subspan(16), h.offset);
  put_be32(s.subspan(24), h.length);
  return out;
}

std::optional<RequestHeader> decode_request(std::span<const std::byte, kRequestHeaderSize> s) noexcept {
  if (get_be32(s) != kRequestMagic) return std::nullopt;
  RequestHeader h;
  h.flags = get_be16(s.subspan(4));
  h.command = static_cast<Command>(get_be16(s.subspan(6)));
  h.cookie = get_be64(s.subspan(8));
  h.offset = get_be64(s.subspan(16));
  h.length = get_be32(s.subspan(24));
  return h;
}

ReplyKind reply_kind(std::span<const std::byte, 4> magic) noexcept {
  switch (get_be32(magic)) {
    case kSimpleReplyMagic: return ReplyKind::kSimple;
    case kStructuredReplyMagic: return ReplyKind::kStructured;
    default: return ReplyKind::kBadMagic;
  }
}

std::array<std::byte, kSimpleReplySize> encode_simple_reply(const SimpleReply& r) noexcept {
  std::array<std::byte, kSimpleReplySize> out{};
  std::span<std::byte> s(out);
  put_be32(s, kSimpleReplyMagic);
  put_be32(s.subspan(4), r.error);
  put_be64(s.subspan(8), r.cookie);
  return out;
}

SimpleReply decode_simple_reply(std::span<const std::byte, kSimpleReplySize> s) noexcept {
  return SimpleReply{get_be32(s.subspan(4)), get_be64(s.subspan(8))};
}

std::array<std::byte, kStructuredReplySize> encode_chunk_header(const ChunkHeader& h) noexcept {
  std::array<std::byte, kStructuredReplySize> out{};
  std::span<std::byte> s(out);
  put_be32(s, kStructuredReplyMagic);
  put_be16(s.subspan(4), h.flags);
  put_be16(s.subspan(6), static_cast<std::uint16_t>(h.type));
  put_be64(s.subspan(8), h.cookie);
  put_be32(s.subspan(16), h.length);
  return out;
}

ChunkHeader decode_chunk_header(std::span<const std::byte, kStructuredReplySize> s) noexcept {
  ChunkHeader h;
  h.flags = get_be16(s.subspan(4));
  h.type = static_cast<ChunkType>(get_be16(s.subspan(6)));
  h.cookie = get_be64(s.subspan(8));
  h.length = get_be32(s.subspan(16));
  return h;
}

std::vector<std::byte> encode_offset_data(std::uint64_t offset, std::span<const std::byte> data) {
  return Writer().u64(offset).bytes(data).take();
}

std::array<std::byte, kOffsetHoleSize> encode_offset_hole(const HoleChunk& hole) noexcept {
  std::array<std::byte, kOffsetHoleSize> out{};
  put_be64(out, hole.offset);
  put_be32(std::span(out).subspan(8), hole.length);
  return out;
}

HoleChunk decode_offset_hole(std::span<const std::byte, kOffsetHoleSize> s) noexcept {
  return HoleChunk{get_be64(s), get_be32(s.subspan(8))};
}

std::vector<std::byte> encode_error_chunk(const ErrorChunk& e) {
  return Writer().u32(e.error).u16(static_cast<std::uint16_t>(e.message.size())).text(e.message).take();
}

std::optional<ErrorChunk> decode_error_chunk(std::span<const std::byte> p) {
  if (p.size() < kErrorPrefix) return std::nullopt;
  const std::uint16_t length = get_be16(p.subspan(4));
  if (kErrorPrefix + length > p.size()) return std::nullopt;
  ErrorChunk e;
  e.error = get_be32(p);
  e.message.assign(reinterpret_cast<const char*>(p.data() + kErrorPrefix), length);
  return e;
}

// ---- handshake ----

std::vector<std::byte> encode_option(const OptionRequest& r) {
  return Writer()
      .u64(kOptMagic)
      .u32(static_cast<std::uint32_t>(r.option))
      .u32(static_cast<std::uint32_t>(r.data.size()))
      .bytes(r.data)
      .take();
}

OptionHeader decode_option_header(std::span<const std::byte, kOptionHeaderSize> s) noexcept {
  return OptionHeader{get_be64(s), get_be32(s.subspan(8)), get_be32(s.subspan(12))};
}

std::array<std::byte, kOptReplyHeaderSize> encode_opt_reply_header(const OptReplyHeader& h) noexcept {
  std::array<std::byte, kOptReplyHeaderSize> out{};
  std::span<std::byte> s(out);
  put_be64(s, h.magic);
  put_be32(s.subspan(8), h.option);
  put_be32(s.subspan(12), static_cast<std::uint32_t>(h.type));
  put_be32(s.subspan(16), h.length);
  return out;
}

OptReplyHeader decode_opt_reply_header(std::span<const std::byte, kOptReplyHeaderSize> s) noexcept {
  return OptReplyHeader{get_be64(s), get_be32(s.subspan(8)), static_cast<OptReplyType>(get_be32(s.subspan(12))),
                        get_be32(s.subspan(16))};
}

std::vector<std::byte> encode_go(std::string_view export_name, std::span<const InfoType> wanted) {
  Writer w;
  w.u32(static_cast<std::uint32_t>(export_name.size())).text(export_name);
  w.u16(static_cast<std::uint16_t>(wanted.size()));
  for (InfoType t : wanted) w.u16(static_cast<std::uint16_t>(t));
  return w.take();
}

std::optional<GoRequest> decode_go(std::span<const std::byte> d) {
  if (d.size() < 6) return std::nullopt;
  const std::uint32_t name_length = get_be32(d);
  if (d.size() < 6 + std::size_t{name_length}) return std::nullopt;
  GoRequest r;
  r.export_name.assign(reinterpret_cast<const char*>(d.data() + 4), name_length);
  auto rest = d.subspan(4 + name_length);
  const std::uint16_t count = get_be16(rest);
  if (rest.size() != 2 + 2 * std::size_t{count}) return std::nullopt;
  for (std::uint16_t i = 0; i < count; ++i) r.wanted.push_back(static_cast<InfoType>(get_be16(rest.subspan(2 + 2 * i))));
  return r;
}

std::vector<std::byte> encode_info_export(const ExportInfo& info) {
  return Writer().u16(static_cast<std::uint16_t>(InfoType::kExport)).u64(info.size).u16(info.flags).take();
}

std::vector<std::byte> encode_info_block_size(const BlockSizeInfo& info) {
  return Writer()
      .u16(static_cast<std::uint16_t>(InfoType::kBlockSize))
      .u32(info.minimum)
      .u32(info.preferred)
      .u32(info.maximum)
      .take();
}

std::optional<std::uint16_t> info_type(std::span<const std::byte> p) noexcept {
  if (p.size() < 2) return std::nullopt;
  return get_be16(p);
}

std::optional<ExportInfo> decode_info_export(std::span<const std::byte> p) noexcept {
  if (p.size() != 12 || get_be16(p) != static_cast<std::uint16_t>(InfoType::kExport)) return std::nullopt;
  return ExportInfo{get_be64(p.subspan(2)), get_be16(p.subspan(10))};
}

std::optional<BlockSizeInfo> decode_info_block_size(std::span<const std::byte> p) noexcept {
  if (p.size() != 14 || get_be16(p) != static_cast<std::uint16_t>(InfoType::kBlockSize)) return std::nullopt;
  return BlockSizeInfo{get_be32(p.subspan(2)), get_be32(p.subspan(6)), get_be32(p.subspan(10))};
}

}  // namespace ublk::nbd
