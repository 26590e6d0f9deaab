#include "nbd/reply_receiver.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <random>

#include "reply_stream.hpp"

namespace ublk::nbd {
namespace {
using namespace test;

// What a connection sees of a stream: each receive lands at most `piece` bytes where the
// receiver points, in order, then every event those bytes finish. `owed` names the reply the
// server owes, for receivers that guess.
struct Received {
  std::vector<ReplyEvent> events;
  std::vector<std::vector<std::span<std::byte>>> receives;  // where each receive went, as far as it took
};

using OnEvent = std::function<void(const ReplyEvent&)>;

Received feed(ReplyReceiver& receiver, Table& table, const Stream& stream, std::size_t piece,
              const std::function<const PendingReply*()>& owed = {}, const OnEvent& on_event = {}) {
  Received out;
  std::size_t at = 0;
  while (at < stream.bytes.size()) {
    const std::span<const iovec> into = receiver.receive_into(owed ? owed() : nullptr);
    std::size_t n = std::min(piece, stream.bytes.size() - at);
    out.receives.emplace_back();
    const std::size_t taken = n;
    for (const iovec& v : into) {
      const std::size_t part = std::min(n, v.iov_len);
      if (part == 0) break;
      std::memcpy(v.iov_base, stream.bytes.data() + at, part);
      out.receives.back().emplace_back(static_cast<std::byte*>(v.iov_base), part);
      at += part;
      n -= part;
    }
    receiver.received(taken - n);
    for (ReplyEvent e = receiver.next(table); e.kind != ReplyEvent::Kind::kMore; e = receiver.next(table)) {
      out.events.push_back(e);
      if (on_event) on_event(e);
      if (e.kind == ReplyEvent::Kind::kBroken) return out;
    }
  }
  return out;
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
  // With more than one reply owed the payloads came through the staging buffer: copied, and counted.
  EXPECT_EQ(ra.copied, 4096U);
  EXPECT_EQ(rb.copied, 512U);
}

TEST(ReplyReceiver, APayloadRestGoesStraightIntoItsBuffer) {
  Table table;
  std::vector<std::byte> a(8192);
  PendingReply& ra = table.add(1, Command::kRead, 0, a);
  const auto da = pattern(a.size(), 3);
  Stream s;
  s.add(encode_simple_reply({0, 1})).add(da);
  ReplyReceiver receiver(false, 4096);
  const Received got = feed(receiver, table, s, 1 << 20);
  ASSERT_EQ(got.events.size(), 1U);
  EXPECT_EQ(got.events[0].result, 0);
  EXPECT_EQ(a, da);
  // The first receive: the header, then the staging buffer full of the payload's start (copied).
  ASSERT_EQ(got.receives.size(), 2U);
  EXPECT_EQ(ra.copied, 4096U);
  // The rest went where it belongs without a copy.
  EXPECT_EQ(got.receives[1][0].data(), a.data() + 4096);
  EXPECT_EQ(got.receives[1][0].size(), a.size() - 4096);
}

// The server owes one READ (a queue at depth 1): its payload is received where it belongs.
class ReplyReceiverOwed : public ::testing::TestWithParam<bool> {};

TEST_P(ReplyReceiverOwed, TheOneReadOwedLandsInItsBufferInOneReceive) {
  const bool structured = GetParam();
  Table table;
  std::vector<std::byte> a(4096);
  PendingReply& ra = table.add(1, Command::kRead, 1 << 20, a);
  const auto da = pattern(a.size(), 5);
  Stream s;
  if (structured) {
    s.chunk(kReplyFlagDone, ChunkType::kOffsetData, 1, encode_offset_data(1 << 20, da));
  } else {
    s.add(encode_simple_reply({0, 1})).add(da);
  }
  ReplyReceiver receiver(structured);
  const Received got = feed(receiver, table, s, 1 << 20, [&] { return &ra; });
  ASSERT_EQ(got.events.size(), 1U);
  EXPECT_EQ(got.events[0].result, 0);
  EXPECT_EQ(a, da);
  EXPECT_EQ(ra.copied, 0U);
  ASSERT_EQ(got.receives.size(), 1U);
  EXPECT_TRUE(std::any_of(got.receives[0].begin(), got.receives[0].end(),
                          [&](std::span<std::byte> part) { return part.data() == a.data() && part.size() == a.size(); }));
}

// However the reply is cut between receives (a server that writes its header and its data
// apart), the rest of it is still guided: nothing is copied.
TEST_P(ReplyReceiverOwed, TheOneReadOwedIsNotCopiedWhereverTheReceivesEnd) {
  const bool structured = GetParam();
  for (const std::size_t piece : {1, 3, 16, 20, 28, 100, 4095}) {
    Table table;
    std::vector<std::byte> a(4096);
    PendingReply& ra = table.add(1, Command::kRead, 0, a);
    const auto da = pattern(a.size(), 8);
    Stream s;
    if (structured) {
      s.chunk(kReplyFlagDone, ChunkType::kOffsetData, 1, encode_offset_data(0, da));
    } else {
      s.add(encode_simple_reply({0, 1})).add(da);
    }
    ReplyReceiver receiver(structured);
    const Received got = feed(receiver, table, s, piece, [&] { return &ra; });
    ASSERT_EQ(got.events.size(), 1U) << piece;
    EXPECT_EQ(got.events[0].result, 0) << piece;
    EXPECT_EQ(a, da) << piece;
    EXPECT_EQ(ra.copied, 0U) << piece;
  }
}

// A guess that does not hold: the owed READ fails, and the next reply's bytes landed in its
// buffer. They are moved out before the failed READ completes (its buffer may be reused at once:
// the test scribbles on it then), and the next reply still reads back right.
TEST_P(ReplyReceiverOwed, AWrongGuessIsMovedOutBeforeTheRequestCompletes) {
  const bool structured = GetParam();
  Table table;
  std::vector<std::byte> a(4096), b(4096), none;
  PendingReply& ra = table.add(1, Command::kRead, 0, a);
  PendingReply& rb = table.add(2, Command::kRead, 8192, b);
  table.add(3, Command::kWrite, 0, none);
  const auto db = pattern(b.size(), 6);
  Stream s;
  if (structured) {
    s.chunk(kReplyFlagDone, ChunkType::kError, 1, encode_error_chunk({5, "media"}));
    s.chunk(kReplyFlagDone, ChunkType::kOffsetData, 2, encode_offset_data(8192, db));
  } else {
    s.add(encode_simple_reply({5, 1}));
    s.add(encode_simple_reply({0, 2})).add(db);
  }
  s.add(encode_simple_reply({0, 3}));
  ReplyReceiver receiver(structured);
  const Received got = feed(receiver, table, s, 1 << 20, [&] { return &ra; }, [&](const ReplyEvent& e) {
    if (e.cookie == 1) std::fill(a.begin(), a.end(), std::byte{0xee});
  });
  ASSERT_EQ(got.events.size(), 3U);
  EXPECT_EQ(got.events[0].cookie, 1U);
  EXPECT_EQ(got.events[0].result, -EIO);
  EXPECT_EQ(got.events[1].cookie, 2U);
  EXPECT_EQ(got.events[1].result, 0);
  EXPECT_EQ(got.events[2].cookie, 3U);
  EXPECT_EQ(b, db);
  EXPECT_EQ(rb.copied, b.size());
}

// The owed READ comes in two chunks, the second first: the guess holds for nothing, the data
// still lands right.
TEST(ReplyReceiver, AReadInChunksOutOfOrderAgainstTheGuess) {
  Table table;
  std::vector<std::byte> a(8192);
  PendingReply& ra = table.add(1, Command::kRead, 0, a);
  const auto da = pattern(a.size(), 7);
  Stream s;
  s.chunk(0, ChunkType::kOffsetData, 1, encode_offset_data(4096, std::span(da).subspan(4096)));
  s.chunk(kReplyFlagDone, ChunkType::kOffsetData, 1, encode_offset_data(0, std::span(da).first(4096)));
  ReplyReceiver receiver(true);
  const Received got = feed(receiver, table, s, 1 << 20, [&] { return &ra; });
  ASSERT_EQ(got.events.size(), 1U);
  EXPECT_EQ(got.events[0].result, 0);
  EXPECT_EQ(a, da);
}

INSTANTIATE_TEST_SUITE_P(Replies, ReplyReceiverOwed, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Structured" : "Simple"; });

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
  const std::span<const iovec> next = receiver.receive_into();
  ASSERT_EQ(next.size(), 2U);  // a fresh header, then the staging buffer
  EXPECT_EQ(next[0].iov_len, kSimpleReplySize);
  EXPECT_EQ(next[1].iov_len, ReplyReceiver::kStagingSize);
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
  ReplyReceiver receiver(true, 64);
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

// Random streams against the receiver: replies in any order and shape (whole, in two chunks
// either way round, a hole then data, an error), chunks of different replies interleaved, cut
// at random, guesses right and wrong. Each request completes once, with its own bytes; a buffer
// is scribbled on as soon as its request completes, as a reused buffer would be.
class ReplyReceiverRandom : public ::testing::TestWithParam<bool> {};

TEST_P(ReplyReceiverRandom, EveryRequestGetsItsOwnBytesWhateverTheGuess) {
  const bool structured = GetParam();
  std::mt19937 rng(structured ? 7 : 11);
  const auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
  for (int round = 0; round < 400; ++round) {
    Table table;
    const std::size_t count = 1 + pick(10);
    std::vector<std::vector<std::byte>> buffers(count), expected(count);
    std::vector<std::vector<std::vector<std::byte>>> replies(count);  // each request's pieces, in order
    std::vector<int> expected_result(count, 0);
    std::vector<bool> reads(count);
    for (std::size_t i = 0; i < count; ++i) {
      const std::uint64_t cookie = i + 1;
      const std::uint64_t offset = i << 20;
      reads[i] = pick(10) < 7;
      const auto add = [&](const auto& bytes) { replies[i].emplace_back(std::begin(bytes), std::end(bytes)); };
      const auto chunk = [&](std::uint16_t flags, ChunkType type, std::span<const std::byte> payload) {
        Stream c;
        c.chunk(flags, type, cookie, payload);
        add(c.bytes);
      };
      if (!reads[i]) {
        table.add(cookie, Command::kWrite, offset, buffers[i]);
        const bool fails = pick(5) == 0;
        expected_result[i] = fails ? -ENOSPC : 0;
        add(encode_simple_reply({fails ? 28U : 0U, cookie}));
        continue;
      }
      const std::size_t length = 1 + pick(9000);
      buffers[i].assign(length, std::byte{0x55});
      expected[i] = pattern(length, static_cast<int>(i));
      table.add(cookie, Command::kRead, offset, buffers[i]);
      const std::size_t shape = pick(10);
      if (shape == 0) {
        expected_result[i] = -EIO;
        if (structured) {
          chunk(kReplyFlagDone, ChunkType::kError, encode_error_chunk({5, "bad"}));
        } else {
          add(encode_simple_reply({5, cookie}));
        }
      } else if (!structured) {
        add(encode_simple_reply({0, cookie}));
        add(expected[i]);
      } else if (shape < 6 || length < 2) {
        chunk(kReplyFlagDone, ChunkType::kOffsetData, encode_offset_data(offset, expected[i]));
      } else {
        const std::size_t cut = 1 + pick(length - 1);
        const auto head = std::span(expected[i]).first(cut), tail = std::span(expected[i]).subspan(cut);
        if (shape == 9) {  // a hole, then data
          std::fill(expected[i].begin(), expected[i].begin() + static_cast<std::ptrdiff_t>(cut), std::byte{0});
          chunk(0, ChunkType::kOffsetHole, encode_offset_hole({offset, static_cast<std::uint32_t>(cut)}));
          chunk(kReplyFlagDone, ChunkType::kOffsetData, encode_offset_data(offset + cut, tail));
        } else if (shape < 8) {
          chunk(0, ChunkType::kOffsetData, encode_offset_data(offset, head));
          chunk(kReplyFlagDone, ChunkType::kOffsetData, encode_offset_data(offset + cut, tail));
        } else {
          chunk(0, ChunkType::kOffsetData, encode_offset_data(offset + cut, tail));
          chunk(kReplyFlagDone, ChunkType::kOffsetData, encode_offset_data(offset, head));
        }
      }
    }
    // Interleave: any request's next piece may come next; a simple reply's pieces stay together.
    std::vector<std::size_t> turns;
    for (std::size_t i = 0; i < count; ++i) turns.insert(turns.end(), structured ? replies[i].size() : 1, i);
    std::shuffle(turns.begin(), turns.end(), rng);
    Stream s;
    std::vector<std::size_t> next(count, 0);
    for (const std::size_t i : turns) {
      do {
        s.add(replies[i][next[i]++]);
      } while (!structured && next[i] < replies[i].size());
    }
    const std::size_t pieces[] = {1, 7, 16, 100, 4096, 1 << 20};
    const std::size_t stagings[] = {64, 4096, ReplyReceiver::kStagingSize};
    ReplyReceiver receiver(structured, stagings[pick(3)]);
    std::vector<int> results(count, 1);
    std::vector<std::vector<std::byte>> seen(count);
    const auto owed = [&]() -> const PendingReply* {
      if (pick(2) == 0) return nullptr;
      const std::size_t i = pick(count);
      return results[i] == 1 ? table.find(i + 1) : nullptr;
    };
    const Received got = feed(receiver, table, s, pieces[pick(6)], owed, [&](const ReplyEvent& e) {
      ASSERT_EQ(e.kind, ReplyEvent::Kind::kDone) << e.why;
      const std::size_t i = e.cookie - 1;
      ASSERT_EQ(results[i], 1) << "completed twice";
      results[i] = e.result;
      seen[i] = buffers[i];
      std::fill(buffers[i].begin(), buffers[i].end(), std::byte{0xee});
    });
    for (std::size_t i = 0; i < count; ++i) {
      ASSERT_EQ(results[i], expected_result[i]) << "round " << round << " request " << i;
      if (reads[i] && expected_result[i] == 0) {
        ASSERT_EQ(seen[i], expected[i]) << "round " << round << " request " << i;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Replies, ReplyReceiverRandom, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Structured" : "Simple"; });

}  // namespace
}  // namespace ublk::nbd
