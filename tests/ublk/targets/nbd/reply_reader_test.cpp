#include "nbd/reply_reader.hpp"

#include "reply_stream.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <map>

namespace ublk::nbd {
namespace {
using namespace test;

// Feeds `stream` to a reader `piece` bytes at a time (as short recvs would deliver it).
std::vector<ReplyEvent> feed(ReplyReader& reader, Table& table, const Stream& stream, std::size_t piece) {
  std::vector<ReplyEvent> events;
  std::size_t at = 0;
  while (at < stream.bytes.size()) {
    auto want = reader.want();
    const std::size_t n = std::min({piece, want.size(), stream.bytes.size() - at});
    std::copy_n(stream.bytes.begin() + static_cast<std::ptrdiff_t>(at), n, want.begin());
    at += n;
    ReplyEvent e = reader.received(n, table);
    if (e.kind != ReplyEvent::Kind::kMore) events.push_back(e);
    if (e.kind == ReplyEvent::Kind::kBroken) break;
  }
  return events;
}

class ReplyReaderPieces : public ::testing::TestWithParam<std::size_t> {};

TEST_P(ReplyReaderPieces, SimpleRepliesInAnyOrderLandInTheirBuffers) {
  Table table;
  std::vector<std::byte> a(4096, std::byte{0xee}), b(512, std::byte{0xee}), none;
  table.add(1, Command::kRead, 0, a);
  table.add(2, Command::kRead, 8192, b);
  table.add(3, Command::kFlush, 0, none);
  const auto da = pattern(4096, 1), db = pattern(512, 2);
  Stream s;
  s.add(encode_simple_reply({0, 3})).add(encode_simple_reply({0, 2})).add(db);
  s.add(encode_simple_reply({0, 1})).add(da);
  ReplyReader reader(false);
  const auto events = feed(reader, table, s, GetParam());
  ASSERT_EQ(events.size(), 3U);
  EXPECT_EQ(events[0].cookie, 3U);
  EXPECT_EQ(events[1].cookie, 2U);
  EXPECT_EQ(events[2].cookie, 1U);
  for (const auto& e : events) EXPECT_EQ(e.kind, ReplyEvent::Kind::kDone);
  EXPECT_EQ(a, da);
  EXPECT_EQ(b, db);
}

TEST_P(ReplyReaderPieces, StructuredReadFromDataAndHoleChunksOutOfOrder) {
  Table table;
  std::vector<std::byte> buf(8192, std::byte{0xee});
  table.add(9, Command::kRead, 1 << 20, buf);
  const auto tail = pattern(4096, 3);
  Stream s;
  s.chunk(0, ChunkType::kOffsetData, 9, encode_offset_data((1 << 20) + 4096, tail));
  s.chunk(kReplyFlagDone, ChunkType::kOffsetHole, 9, encode_offset_hole({1 << 20, 4096}));
  ReplyReader reader(true);
  const auto events = feed(reader, table, s, GetParam());
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].kind, ReplyEvent::Kind::kDone);
  EXPECT_EQ(events[0].result, 0);
  EXPECT_TRUE(std::all_of(buf.begin(), buf.begin() + 4096, [](std::byte x) { return x == std::byte{0}; }));
  EXPECT_TRUE(std::equal(tail.begin(), tail.end(), buf.begin() + 4096));
}

INSTANTIATE_TEST_SUITE_P(Pieces, ReplyReaderPieces, ::testing::Values(1, 3, 16, 1 << 20));

TEST(ReplyReader, InterleavedChunksOfTwoReads) {
  Table table;
  std::vector<std::byte> a(1024), b(1024);
  table.add(1, Command::kRead, 0, a);
  table.add(2, Command::kRead, 4096, b);
  const auto da = pattern(1024, 5), db = pattern(1024, 6);
  Stream s;
  s.chunk(0, ChunkType::kOffsetData, 1, encode_offset_data(0, std::span(da).first(512)));
  s.chunk(0, ChunkType::kOffsetData, 2, encode_offset_data(4096, std::span(db).first(512)));
  s.chunk(kReplyFlagDone, ChunkType::kOffsetData, 2, encode_offset_data(4096 + 512, std::span(db).subspan(512)));
  s.chunk(kReplyFlagDone, ChunkType::kOffsetData, 1, encode_offset_data(512, std::span(da).subspan(512)));
  ReplyReader reader(true);
  const auto events = feed(reader, table, s, 1 << 20);
  ASSERT_EQ(events.size(), 2U);
  EXPECT_EQ(events[0].cookie, 2U);
  EXPECT_EQ(events[1].cookie, 1U);
  EXPECT_EQ(a, da);
  EXPECT_EQ(b, db);
}

TEST(ReplyReader, ReadEndedBeforeAllDataFailsWithEio) {
  Table table;
  std::vector<std::byte> buf(1024);
  table.add(4, Command::kRead, 0, buf);
  Stream s;
  s.chunk(0, ChunkType::kOffsetData, 4, encode_offset_data(0, pattern(512, 1)));
  s.chunk(kReplyFlagDone, ChunkType::kNone, 4, {});
  ReplyReader reader(true);
  const auto events = feed(reader, table, s, 1 << 20);
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].kind, ReplyEvent::Kind::kDone);
  EXPECT_EQ(events[0].result, -EIO);
}

TEST(ReplyReader, ErrorChunkAndSimpleErrorFailTheRequest) {
  Table table;
  std::vector<std::byte> buf(1024), none;
  table.add(5, Command::kRead, 0, buf);
  table.add(6, Command::kWrite, 0, none);
  Stream s;
  s.chunk(kReplyFlagDone, ChunkType::kError, 5, encode_error_chunk({28, "no space"}));
  s.add(encode_simple_reply({1, 6}));
  ReplyReader reader(true);
  const auto events = feed(reader, table, s, 5);
  ASSERT_EQ(events.size(), 2U);
  EXPECT_EQ(events[0].result, -ENOSPC);
  EXPECT_EQ(events[1].result, -EPERM);
}

struct BrokenCase {
  const char* name;
  bool structured;
  Stream stream;
};

TEST(ReplyReader, MalformedStreamsBreakTheConnection) {
  std::vector<std::byte> buf(1024);
  std::vector<BrokenCase> cases;
  {
    auto bad = encode_simple_reply({0, 1});
    bad[0] = std::byte{0};
    cases.push_back({"bad magic", false, Stream().add(bad)});
  }
  cases.push_back({"unknown cookie", false, Stream().add(encode_simple_reply({0, 77}))});
  cases.push_back({"structured when not negotiated", false,
                   Stream().chunk(kReplyFlagDone, ChunkType::kNone, 1, {})});
  cases.push_back({"data outside the read", true,
                   Stream().chunk(kReplyFlagDone, ChunkType::kOffsetData, 1, encode_offset_data(1000, pattern(100, 0)))});
  {
    Stream overlap;
    overlap.chunk(0, ChunkType::kOffsetData, 1, encode_offset_data(0, pattern(600, 0)));
    overlap.chunk(kReplyFlagDone, ChunkType::kOffsetData, 1, encode_offset_data(500, pattern(524, 0)));
    cases.push_back({"overlapping chunks", true, overlap});
  }
  cases.push_back({"NONE without DONE", true, Stream().chunk(0, ChunkType::kNone, 1, {})});
  cases.push_back({"unknown chunk type", true, Stream().chunk(kReplyFlagDone, ChunkType{77}, 1, pattern(4, 0))});
  cases.push_back({"hole of the wrong size", true, Stream().chunk(kReplyFlagDone, ChunkType::kOffsetHole, 1, pattern(8, 0))});
  for (auto& c : cases) {
    Table table;
    table.add(1, Command::kRead, 0, buf);
    ReplyReader reader(c.structured);
    const auto events = feed(reader, table, c.stream, 1 << 20);
    ASSERT_FALSE(events.empty()) << c.name;
    EXPECT_EQ(events.back().kind, ReplyEvent::Kind::kBroken) << c.name;
    EXPECT_FALSE(events.back().why.empty()) << c.name;
    // After reset the reader expects a fresh reply header.
    EXPECT_EQ(reader.want().size(), kSimpleReplySize) << c.name;
  }
}

}  // namespace
}  // namespace ublk::nbd
