#pragma once
// The NBD wire protocol (fixed newstyle handshake, simple and structured replies) as small
// pure functions over byte spans. Every integer on the wire is big-endian.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ublk::nbd {

// ---- magics ----
inline constexpr std::uint64_t kNbdMagic = 0x4e42444d41474943;        // "NBDMAGIC"
inline constexpr std::uint64_t kOptMagic = 0x49484156454f5054;        // "IHAVEOPT": newstyle
inline constexpr std::uint64_t kOldstyleMagic = 0x0000420281861253;   // the pre-2011 handshake
inline constexpr std::uint64_t kOptReplyMagic = 0x0003e889045565a9;
inline constexpr std::uint32_t kRequestMagic = 0x25609513;
inline constexpr std::uint32_t kSimpleReplyMagic = 0x67446698;
inline constexpr std::uint32_t kStructuredReplyMagic = 0x668e33ef;

// ---- handshake ----
inline constexpr std::uint16_t kServerFixedNewstyle = 1U << 0;
inline constexpr std::uint16_t kServerNoZeroes = 1U << 1;
inline constexpr std::uint32_t kClientFixedNewstyle = 1U << 0;
inline constexpr std::uint32_t kClientNoZeroes = 1U << 1;
inline constexpr std::size_t kExportNamePadding = 124;  // zeroes after NBD_OPT_EXPORT_NAME's reply

enum class Option : std::uint32_t {
  kExportName = 1,
  kAbort = 2,
  kList = 3,
  kStartTls = 5,
  kInfo = 6,
  kGo = 7,
  kStructuredReply = 8,
};

inline constexpr std::uint32_t kRepErrorBit = 1U << 31;
enum class OptReplyType : std::uint32_t {
  kAck = 1,
  kServer = 2,
  kInfo = 3,
  kMetaContext = 4,
  kErrUnsup = kRepErrorBit | 1,
  kErrPolicy = kRepErrorBit | 2,
  kErrInvalid = kRepErrorBit | 3,
  kErrPlatform = kRepErrorBit | 4,
  kErrTlsReqd = kRepErrorBit | 5,
  kErrUnknown = kRepErrorBit | 6,
  kErrShutdown = kRepErrorBit | 7,
  kErrBlockSizeReqd = kRepErrorBit | 8,
  kErrTooBig = kRepErrorBit | 9,
};
std::string_view to_string(OptReplyType type) noexcept;

enum class InfoType : std::uint16_t { kExport = 0, kName = 1, kDescription = 2, kBlockSize = 3 };

// ---- transmission flags (per export) ----
namespace tflag {
inline constexpr std::uint16_t kHasFlags = 1U << 0;
inline constexpr std::uint16_t kReadOnly = 1U << 1;
inline constexpr std::uint16_t kSendFlush = 1U << 2;
inline constexpr std::uint16_t kSendFua = 1U << 3;
inline constexpr std::uint16_t kRotational = 1U << 4;
inline constexpr std::uint16_t kSendTrim = 1U << 5;
inline constexpr std::uint16_t kSendWriteZeroes = 1U << 6;
inline constexpr std::uint16_t kSendDf = 1U << 7;
inline constexpr std::uint16_t kCanMultiConn = 1U << 8;
}  // namespace tflag
std::string describe_transmission_flags(std::uint16_t flags);

// ---- transmission ----
enum class Command : std::uint16_t {
  kRead = 0,
  kWrite = 1,
  kDisconnect = 2,
  kFlush = 3,
  kTrim = 4,
  kCache = 5,
  kWriteZeroes = 6,
  kBlockStatus = 7,
};
inline constexpr std::uint16_t kCmdFlagFua = 1U << 0;
inline constexpr std::uint16_t kCmdFlagNoHole = 1U << 1;

inline constexpr std::uint16_t kReplyFlagDone = 1U << 0;
enum class ChunkType : std::uint16_t {
  kNone = 0,
  kOffsetData = 1,
  kOffsetHole = 2,
  kBlockStatus = 5,
  kError = (1U << 15) | 1,
  kErrorOffset = (1U << 15) | 2,
};
constexpr bool is_error_chunk(ChunkType type) noexcept { return (static_cast<std::uint16_t>(type) & (1U << 15)) != 0; }

// The errno a server's NBD error number stands for (EIO for one the protocol does not name).
int errno_from_nbd(std::uint32_t nbd_error) noexcept;

// ---- big-endian fields ----
void put_be16(std::span<std::byte> out, std::uint16_t v) noexcept;
void put_be32(std::span<std::byte> out, std::uint32_t v) noexcept;
void put_be64(std::span<std::byte> out, std::uint64_t v) noexcept;
std::uint16_t get_be16(std::span<const std::byte> in) noexcept;
std::uint32_t get_be32(std::span<const std::byte> in) noexcept;
std::uint64_t get_be64(std::span<const std::byte> in) noexcept;

// ---- messages ----
struct RequestHeader {
  std::uint16_t flags = 0;
  Command command = Command::kRead;
  std::uint64_t cookie = 0;
  std::uint64_t offset = 0;
  std::uint32_t length = 0;
  friend bool operator==(const RequestHeader&, const RequestHeader&) = default;
};
inline constexpr std::size_t kRequestHeaderSize = 28;
std::array<std::byte, kRequestHeaderSize> encode_request(const RequestHeader& header) noexcept;
// nullopt when the magic is wrong.
std::optional<RequestHeader> decode_request(std::span<const std::byte, kRequestHeaderSize> bytes) noexcept;

// Every reply starts with 16 bytes; a structured reply has 4 more (its payload length).
inline constexpr std::size_t kSimpleReplySize = 16;
inline constexpr std::size_t kStructuredReplySize = 20;
struct SimpleReply {
  std::uint32_t error = 0;
  std::uint64_t cookie = 0;
};
struct ChunkHeader {
  std::uint16_t flags = 0;
  ChunkType type = ChunkType::kNone;
  std::uint64_t cookie = 0;
  std::uint32_t length = 0;  // of the payload that follows
  [[nodiscard]] bool done() const noexcept { return (flags & kReplyFlagDone) != 0; }
};
enum class ReplyKind : std::uint8_t { kSimple, kStructured, kBadMagic };
ReplyKind reply_kind(std::span<const std::byte, 4> magic) noexcept;
std::array<std::byte, kSimpleReplySize> encode_simple_reply(const SimpleReply& reply) noexcept;
SimpleReply decode_simple_reply(std::span<const std::byte, kSimpleReplySize> bytes) noexcept;
std::array<std::byte, kStructuredReplySize> encode_chunk_header(const ChunkHeader& header) noexcept;
ChunkHeader decode_chunk_header(std::span<const std::byte, kStructuredReplySize> bytes) noexcept;

// Chunk payloads.
inline constexpr std::size_t kOffsetDataPrefix = 8;   // u64 offset, then the data
inline constexpr std::size_t kOffsetHoleSize = 12;    // u64 offset, u32 length
inline constexpr std::size_t kErrorPrefix = 6;        // u32 error, u16 message length, message
struct HoleChunk {
  std::uint64_t offset = 0;
  std::uint32_t length = 0;
};
struct ErrorChunk {
  std::uint32_t error = 0;
  std::string message;
};
std::vector<std::byte> encode_offset_data(std::uint64_t offset, std::span<const std::byte> data);
std::array<std::byte, kOffsetHoleSize> encode_offset_hole(const HoleChunk& hole) noexcept;
HoleChunk decode_offset_hole(std::span<const std::byte, kOffsetHoleSize> bytes) noexcept;
std::vector<std::byte> encode_error_chunk(const ErrorChunk& error);
// nullopt when the message length does not fit the payload.
std::optional<ErrorChunk> decode_error_chunk(std::span<const std::byte> payload);

// ---- handshake messages ----
struct OptionRequest {
  Option option = Option::kGo;
  std::vector<std::byte> data;
};
std::vector<std::byte> encode_option(const OptionRequest& request);
inline constexpr std::size_t kOptionHeaderSize = 16;  // magic, option, length
struct OptionHeader {
  std::uint64_t magic = 0;
  std::uint32_t option = 0;
  std::uint32_t length = 0;
};
OptionHeader decode_option_header(std::span<const std::byte, kOptionHeaderSize> bytes) noexcept;

inline constexpr std::size_t kOptReplyHeaderSize = 20;  // magic, option, type, length
struct OptReplyHeader {
  std::uint64_t magic = 0;
  std::uint32_t option = 0;
  OptReplyType type = OptReplyType::kAck;
  std::uint32_t length = 0;
};
std::array<std::byte, kOptReplyHeaderSize> encode_opt_reply_header(const OptReplyHeader& header) noexcept;
OptReplyHeader decode_opt_reply_header(std::span<const std::byte, kOptReplyHeaderSize> bytes) noexcept;

// NBD_OPT_GO / NBD_OPT_INFO data: the export name and the NBD_INFO_* items asked for.
std::vector<std::byte> encode_go(std::string_view export_name, std::span<const InfoType> wanted);
struct GoRequest {
  std::string export_name;
  std::vector<InfoType> wanted;
};
std::optional<GoRequest> decode_go(std::span<const std::byte> data);

// NBD_REP_INFO payloads.
struct ExportInfo {
  std::uint64_t size = 0;
  std::uint16_t flags = 0;  // transmission flags
};
struct BlockSizeInfo {
  std::uint32_t minimum = 1;
  std::uint32_t preferred = 4096;
  std::uint32_t maximum = 32U << 20;
};
std::vector<std::byte> encode_info_export(const ExportInfo& info);
std::vector<std::byte> encode_info_block_size(const BlockSizeInfo& info);
// The info type of an NBD_REP_INFO payload; nullopt when shorter than 2 bytes.
std::optional<std::uint16_t> info_type(std::span<const std::byte> payload) noexcept;
std::optional<ExportInfo> decode_info_export(std::span<const std::byte> payload) noexcept;
std::optional<BlockSizeInfo> decode_info_block_size(std::span<const std::byte> payload) noexcept;

}  // namespace ublk::nbd
