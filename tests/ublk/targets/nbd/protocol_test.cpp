#include "nbd/protocol.hpp"

#include <gtest/gtest.h>

#include <cerrno>

namespace ublk::nbd {
namespace {

std::vector<std::uint8_t> as_u8(std::span<const std::byte> b) {
  std::vector<std::uint8_t> out;
  for (auto x : b) out.push_back(std::to_integer<std::uint8_t>(x));
  return out;
}

TEST(NbdProtocol, RequestHeaderIsBigEndianAt28Bytes) {
  const RequestHeader h{kCmdFlagFua, Command::kWrite, 0x0102030405060708, 0x1122334455667788, 0xaabbccdd};
  const auto bytes = encode_request(h);
  const std::vector<std::uint8_t> expected{0x25, 0x60, 0x95, 0x13, 0x00, 0x01, 0x00, 0x01, 0x01, 0x02,
                                           0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x11, 0x22, 0x33, 0x44,
                                           0x55, 0x66, 0x77, 0x88, 0xaa, 0xbb, 0xcc, 0xdd};
  EXPECT_EQ(as_u8(bytes), expected);
  const auto back = decode_request(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, h);
}

TEST(NbdProtocol, RequestWithWrongMagicIsRejected) {
  auto bytes = encode_request({});
  bytes[3] = std::byte{0};
  EXPECT_FALSE(decode_request(bytes));
}

TEST(NbdProtocol, SimpleReplyRoundTripsAndIsRecognisedByMagic) {
  const auto bytes = encode_simple_reply({22, 77});
  EXPECT_EQ(reply_kind(std::span(bytes).first<4>()), ReplyKind::kSimple);
  const SimpleReply r = decode_simple_reply(bytes);
  EXPECT_EQ(r.error, 22U);
  EXPECT_EQ(r.cookie, 77U);
}

TEST(NbdProtocol, ChunkHeaderRoundTrips) {
  const ChunkHeader h{kReplyFlagDone, ChunkType::kOffsetHole, 99, 12};
  const auto bytes = encode_chunk_header(h);
  EXPECT_EQ(as_u8(std::span(bytes).first(8)), (std::vector<std::uint8_t>{0x66, 0x8e, 0x33, 0xef, 0, 1, 0, 2}));
  EXPECT_EQ(reply_kind(std::span(bytes).first<4>()), ReplyKind::kStructured);
  const ChunkHeader back = decode_chunk_header(bytes);
  EXPECT_TRUE(back.done());
  EXPECT_EQ(back.type, ChunkType::kOffsetHole);
  EXPECT_EQ(back.cookie, 99U);
  EXPECT_EQ(back.length, 12U);
}

TEST(NbdProtocol, UnknownMagicIsBad) {
  const std::array<std::byte, 4> junk{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
  EXPECT_EQ(reply_kind(junk), ReplyKind::kBadMagic);
}

TEST(NbdProtocol, ChunkPayloads) {
  const auto hole = encode_offset_hole({4096, 512});
  const HoleChunk h = decode_offset_hole(hole);
  EXPECT_EQ(h.offset, 4096U);
  EXPECT_EQ(h.length, 512U);

  const std::array<std::byte, 3> data{std::byte{7}, std::byte{8}, std::byte{9}};
  const auto od = encode_offset_data(1024, data);
  ASSERT_EQ(od.size(), 11U);
  EXPECT_EQ(get_be64(od), 1024U);
  EXPECT_EQ(od[10], std::byte{9});

  const auto err = encode_error_chunk({28, "full"});
  const auto e = decode_error_chunk(err);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->error, 28U);
  EXPECT_EQ(e->message, "full");
  // A message length beyond the payload is malformed.
  EXPECT_FALSE(decode_error_chunk(std::span(err).first(err.size() - 1)));
  EXPECT_FALSE(decode_error_chunk(std::span(err).first(3)));
}

TEST(NbdProtocol, ErrorNumbersMapToErrno) {
  EXPECT_EQ(errno_from_nbd(1), EPERM);
  EXPECT_EQ(errno_from_nbd(5), EIO);
  EXPECT_EQ(errno_from_nbd(28), ENOSPC);
  EXPECT_EQ(errno_from_nbd(95), EOPNOTSUPP);
  EXPECT_EQ(errno_from_nbd(108), ESHUTDOWN);
  EXPECT_EQ(errno_from_nbd(4242), EIO);
}

TEST(NbdProtocol, OptionRequestLayout) {
  const auto go = encode_go("disk", std::array{InfoType::kBlockSize});
  const auto bytes = encode_option({Option::kGo, go});
  ASSERT_EQ(bytes.size(), kOptionHeaderSize + 4 + 4 + 2 + 2);
  const OptionHeader h = decode_option_header(std::span(bytes).first<kOptionHeaderSize>());
  EXPECT_EQ(h.magic, kOptMagic);
  EXPECT_EQ(h.option, 7U);
  EXPECT_EQ(h.length, 12U);
  const auto back = decode_go(std::span(bytes).subspan(kOptionHeaderSize));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->export_name, "disk");
  ASSERT_EQ(back->wanted.size(), 1U);
  EXPECT_EQ(back->wanted[0], InfoType::kBlockSize);
  EXPECT_FALSE(decode_go(std::span(bytes).subspan(kOptionHeaderSize, 7)));
}

TEST(NbdProtocol, OptionReplyAndInfos) {
  const auto header = encode_opt_reply_header({kOptReplyMagic, 7, OptReplyType::kErrTlsReqd, 0});
  const OptReplyHeader h = decode_opt_reply_header(header);
  EXPECT_EQ(h.magic, kOptReplyMagic);
  EXPECT_EQ(h.type, OptReplyType::kErrTlsReqd);
  EXPECT_EQ(get_be32(std::span(header).subspan(12)), 0x80000005U);

  const auto ex = encode_info_export({1ULL << 40, tflag::kHasFlags | tflag::kReadOnly});
  EXPECT_EQ(info_type(ex), std::optional<std::uint16_t>(0));
  const auto e = decode_info_export(ex);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->size, 1ULL << 40);
  EXPECT_EQ(e->flags, tflag::kHasFlags | tflag::kReadOnly);
  EXPECT_FALSE(decode_info_block_size(ex));

  const auto bs = encode_info_block_size({512, 4096, 1U << 25});
  const auto b = decode_info_block_size(bs);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->minimum, 512U);
  EXPECT_EQ(b->preferred, 4096U);
  EXPECT_EQ(b->maximum, 1U << 25);
  EXPECT_FALSE(decode_info_export(bs));
}

TEST(NbdProtocol, TransmissionFlagsDescribed) {
  EXPECT_EQ(describe_transmission_flags(tflag::kHasFlags), "none");
  EXPECT_EQ(describe_transmission_flags(tflag::kHasFlags | tflag::kReadOnly | tflag::kCanMultiConn),
            "read-only,multi-conn");
}

}  // namespace
}  // namespace ublk::nbd
