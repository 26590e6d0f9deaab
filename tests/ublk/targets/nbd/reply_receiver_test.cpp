#include "nbd/reply_receiver.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "reply_stream.hpp"

namespace ublk::nbd {
namespace {
using namespace test;

// What a connection sees of a stream: each recv lands at most `piece` bytes where the receiver
// points, then every event those bytes finish.
struct Received {
  std::vector<ReplyEvent> events;
  std::vector<std::span<std::byte>> receives;  // where each recv went, and how much it took
};

Received feed(ReplyReceiver& receiver, Table& table, const Stream& stream, std::size_t piece) {
  Received out;
  std::size_t at = 0;
  while (at < stream.bytes.size()) {
    const std::span<std::byte> into = receiver.receive_into();
    const std::size_t n = std::min({piece, into.size(), stream.bytes.size() - at});
    std::memcpy(into.data(), stream.bytes.data() + at, n);
    at += n;
    out.receives.push_back(into.first(n));
    receiver.received(n);
    for (ReplyEvent e = receiver.next(table); e.kind != ReplyEvent::Kind::kMore; e = receiver.next(table)) {
      out.events.push_back(e);
      if (e.kind == ReplyEvent::Kind::kBroken) return out;
    }
  }
  return out;
}

bool inside(std::span<std::byte> part, const std::vector<std::byte>& buffer) {
  return part.data() >= buffer.data() && part.data() + part.size() <= buffer.data() + buffer.size();
}

TEST(ReplyReceiver, ManyRepliesInOneReceive) {
  Table table;
  std::vector<std::byte> a(4096), b(512), none;
  PendingReply& ra = table.add(1, Command::kRead, 0, a);
  PendingReply& rb = table.add(2, Command::kRead, 8192, b);
  table.add(3, Command::kWrite, 0, none);
  const auto da = pattern(4096, 1), db = pattern(512, 2);
  Stream s;
  s.add(encode_simple_reply({0, 3})).add(encode_simple_reply({0, 2})).add(db);
  s.add(encode_simple_reply({0, 1})).add(da);
  ReplyReceiver receiver(false);
  const Received got = feed(receiver, table, s, 1 << 20);
  EXPECT_EQ(got.receives.size(), 1U);
  ASSERT_EQ(got.events.size(), 3U);
  EXPECT_EQ(got.events[0].cookie, 3U);
  EXPECT_EQ(got.events[1].cookie, 2U);
  EXPECT_EQ(got.events[2].cookie, 1U);
  for (const auto& e : got.events) EXPECT_EQ(e.result, 0);
  EXPECT_EQ(a, da);
  EXPECT_EQ(b, db);
  // The payloads came through the staging buffer: copied, and counted.
  EXPECT_EQ(ra.copied, 4096U);
  EXPECT_EQ(rb.copied, 512U);
}

TEST(ReplyReceiver, LargePayloadRestIsReceivedStraightIntoTheBuffer) {
  Table table;
  std::vector<std::byte> a(256 * 1024);
  PendingReply& ra = table.add(1, Command::kRead, 0, a);
  const auto da = pattern(a.size(), 3);
  Stream s;
  s.add(encode_simple_reply({0, 1})).add(da);
  ReplyReceiver receiver(false);
  const Received got = feed(receiver, table, s, 1 << 20);
  ASSERT_EQ(got.events.size(), 1U);
  EXPECT_EQ(got.events[0].result, 0);
  EXPECT_EQ(a, da);
  // The first receive filled the staging buffer: header and the payload's start, copied.
  ASSERT_EQ(got.receives.size(), 2U);
  EXPECT_EQ(got.receives[0].size(), ReplyReceiver::kStagingSize);
  EXPECT_EQ(ra.copied, ReplyReceiver::kStagingSize - kSimpleReplySize);
  // The rest went where it belongs without a copy.
  EXPECT_EQ(got.receives[1].data(), a.data() + ra.copied);
  EXPECT_EQ(got.receives[1].size(), a.size() - ra.copied);
}

TEST(ReplyReceiver, SmallPayloadRestStaysInTheStagingBuffer) {
  Table table;
  std::vector<std::byte> a(8192);
  PendingReply& ra = table.add(1, Command::kRead, 0, a);
  const auto da = pattern(a.size(), 4);
  Stream s;
  s.add(encode_simple_reply({0, 1})).add(da);
  ReplyReceiver receiver(false, 4096, 4096);
  const Received got = feed(receiver, table, s, 1 << 20);
  ASSERT_EQ(got.events.size(), 1U);
  EXPECT_EQ(a, da);
  // 4080 bytes staged, then a rest of 4112 is received directly, not staged.
  ASSERT_EQ(got.receives.size(), 2U);
  EXPECT_TRUE(inside(got.receives[1], a));
  EXPECT_EQ(ra.copied, 4096U - kSimpleReplySize);

  std::vector<std::byte> b(4096 + 1024);
  PendingReply& rb = table.add(2, Command::kRead, 0, b);
  Stream t;
  t.add(encode_simple_reply({0, 2})).add(pattern(b.size(), 5));
  ReplyReceiver small_rest(false, 4096, 4096);
  const Received got_b = feed(small_rest, table, t, 1 << 20);
  ASSERT_EQ(got_b.events.size(), 1U);
  // The rest (1040 bytes) is below the threshold: staged again, and copied.
  for (const auto& r : got_b.receives) EXPECT_FALSE(inside(r, b));
  EXPECT_EQ(rb.copied, b.size());
}

TEST(ReplyReceiver, HeadersSplitAcrossReceives) {
  Table table;
  std::vector<std::byte> a(1024), b(100);
  table.add(1, Command::kRead, 0, a);
  table.add(2, Command::kRead, 4096, b);
  const auto da = pattern(1024, 6), db = pattern(100, 7);
  Stream s;
  s.chunk(0, ChunkType::kOffsetData, 1, encode_offset_data(0, std::span(da).first(500)));
  s.chunk(kReplyFlagDone, ChunkType::kOffsetData, 2, encode_offset_data(4096, db));
  s.chunk(kReplyFlagDone, ChunkType::kOffsetData, 1, encode_offset_data(500, std::span(da).subspan(500)));
  // Every split point of the stream in two receives: each header and offset field is cut once.
  for (std::size_t cut = 1; cut < s.bytes.size(); ++cut) {
    std::fill(a.begin(), a.end(), std::byte{0});
    std::fill(b.begin(), b.end(), std::byte{0});
    table.find(1)->reset_progress();
    table.find(2)->reset_progress();
    ReplyReceiver receiver(true);
    Stream first, second;
    first.add(std::span(s.bytes).first(cut));
    second.add(std::span(s.bytes).subspan(cut));
    Received got = feed(receiver, table, first, 1 << 20);
    const Received rest = feed(receiver, table, second, 1 << 20);
    got.events.insert(got.events.end(), rest.events.begin(), rest.events.end());
    ASSERT_EQ(got.events.size(), 2U) << cut;
    EXPECT_EQ(got.events[0].cookie, 2U) << cut;
    EXPECT_EQ(got.events[1].cookie, 1U) << cut;
    EXPECT_EQ(got.events[1].result, 0) << cut;
    ASSERT_EQ(a, da) << cut;
    ASSERT_EQ(b, db) << cut;
  }
}

TEST(ReplyReceiver, ReadIncompleteInTheStagingBufferIsNotDone) {
  Table table;
  std::vector<std::byte> a(4096);
  table.add(1, Command::kRead, 0, a);
  Stream s;
  s.add(encode_simple_reply({0, 1})).add(pattern(4095, 1));
  ReplyReceiver receiver(false);
  EXPECT_TRUE(feed(receiver, table, s, 1 << 20).events.empty());
}

TEST(ReplyReceiver, BrokenStreamAfterGoodRepliesDropsWhatIsStaged) {
  Table table;
  std::vector<std::byte> none;
  table.add(1, Command::kWrite, 0, none);
  table.add(2, Command::kWrite, 0, none);
  auto bad = encode_simple_reply({0, 2});
  bad[0] = std::byte{0};
  Stream s;
  s.add(encode_simple_reply({0, 1})).add(bad).add(encode_simple_reply({0, 2}));
  ReplyReceiver receiver(false);
  const Received got = feed(receiver, table, s, 1 << 20);
  ASSERT_EQ(got.events.size(), 2U);
  EXPECT_EQ(got.events[0].kind, ReplyEvent::Kind::kDone);
  EXPECT_EQ(got.events[1].kind, ReplyEvent::Kind::kBroken);
  // The reply staged after the bad one is not parsed.
  EXPECT_EQ(receiver.next(table).kind, ReplyEvent::Kind::kMore);
  EXPECT_EQ(receiver.receive_into().size(), ReplyReceiver::kStagingSize);
}

// The reader's own cases through the receiver, in pieces, with a staging buffer small enough
// that payloads split between staged and direct receives.
class ReplyReceiverPieces : public ::testing::TestWithParam<std::size_t> {};

TEST_P(ReplyReceiverPieces, StructuredReadsWithHolesAndErrors) {
  Table table;
  std::vector<std::byte> buf(8192, std::byte{0xee}), other(1024), none;
  table.add(9, Command::kRead, 1 << 20, buf);
  table.add(5, Command::kRead, 0, other);
  table.add(6, Command::kWrite, 0, none);
  const auto tail = pattern(4096, 3);
  Stream s;
  s.chunk(0, ChunkType::kOffsetData, 9, encode_offset_data((1 << 20) + 4096, tail));
  s.chunk(kReplyFlagDone, ChunkType::kError, 5, encode_error_chunk({28, "no space"}));
  s.chunk(kReplyFlagDone, ChunkType::kOffsetHole, 9, encode_offset_hole({1 << 20, 4096}));
  s.add(encode_simple_reply({1, 6}));
  ReplyReceiver receiver(true, 64, 32);
  const Received got = feed(receiver, table, s, GetParam());
  ASSERT_EQ(got.events.size(), 3U);
  EXPECT_EQ(got.events[0].cookie, 5U);
  EXPECT_EQ(got.events[0].result, -ENOSPC);
  EXPECT_EQ(got.events[1].cookie, 9U);
  EXPECT_EQ(got.events[1].result, 0);
  EXPECT_EQ(got.events[2].cookie, 6U);
  EXPECT_EQ(got.events[2].result, -EPERM);
  EXPECT_TRUE(std::all_of(buf.begin(), buf.begin() + 4096, [](std::byte x) { return x == std::byte{0}; }));
  EXPECT_TRUE(std::equal(tail.begin(), tail.end(), buf.begin() + 4096));
}

INSTANTIATE_TEST_SUITE_P(Pieces, ReplyReceiverPieces, ::testing::Values(1, 3, 16, 1 << 20));

}  // namespace
}  // namespace ublk::nbd
