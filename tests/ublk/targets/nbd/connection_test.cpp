// Connection against a scripted Transport: what goes on the wire byte by byte, short sends,
// replies that overtake the send's completion, and resending after a broken stream.
#include "nbd/connection.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <algorithm>
#include <map>
#include <string>

#include "callback_owner.hpp"
#include "reply_stream.hpp"

namespace ublk::nbd {
namespace {

class ScriptedTransport final : public Transport {
 public:
  void sendmsg(int, msghdr* message) noexcept override {
    ++sends;
    pending_send = message;
  }
  void recvmsg(int, msghdr* message) noexcept override {
    ++recvs;
    pending_recv = message;
  }
  void watch_hangup(int) noexcept override { ++hangup_watches; }
  void sendmsg_zc(int, msghdr* message, bool report_usage, std::uint32_t id) noexcept override {
    ++sends;
    ++zc_sends;
    pending_send = message;
    zc_report_usage = report_usage;
    zc_ids.push_back(id);
  }
  // The bytes the pending sendmsg would put on the wire, up to `limit`.
  std::vector<std::byte> take(std::size_t limit = SIZE_MAX) const {
    std::vector<std::byte> out;
    for (std::size_t i = 0; i < pending_send->msg_iovlen && out.size() < limit; ++i) {
      const auto* base = static_cast<const std::byte*>(pending_send->msg_iov[i].iov_base);
      const std::size_t n = std::min(pending_send->msg_iov[i].iov_len, limit - out.size());
      out.insert(out.end(), base, base + n);
    }
    return out;
  }
  // Delivers `bytes` to the connection through as many receives as it asks for.
  void deliver(Connection& c, std::span<const std::byte> bytes) {
    while (!bytes.empty()) {
      ASSERT_NE(pending_recv, nullptr) << "no receive asked for";
      const msghdr* into = std::exchange(pending_recv, nullptr);
      std::size_t n = 0;
      for (std::size_t i = 0; i < into->msg_iovlen && !bytes.empty(); ++i) {
        const std::size_t part = std::min(bytes.size(), into->msg_iov[i].iov_len);
        std::copy_n(bytes.begin(), part, static_cast<std::byte*>(into->msg_iov[i].iov_base));
        bytes = bytes.subspan(part);
        n += part;
      }
      c.on_received(static_cast<int>(n));
    }
  }
  // The pending receive goes straight into `buffer` (one of its iovecs is all of it).
  [[nodiscard]] bool receives_into(const std::vector<std::byte>& buffer) const {
    if (!pending_recv) return false;
    for (std::size_t i = 0; i < pending_recv->msg_iovlen; ++i) {
      if (pending_recv->msg_iov[i].iov_base == buffer.data() && pending_recv->msg_iov[i].iov_len == buffer.size()) return true;
    }
    return false;
  }

  msghdr* pending_send = nullptr;
  msghdr* pending_recv = nullptr;
  int sends = 0, recvs = 0;
  int hangup_watches = 0;
  int zc_sends = 0;                  // of sends, the zero-copy ones
  bool zc_report_usage = false;      // the last zero-copy send's
  std::vector<std::uint32_t> zc_ids;  // each zero-copy send's id, in order
};

struct Results {
  std::map<unsigned, std::vector<int>> by_tag;
  std::map<unsigned, std::uint64_t> copied;
  static void record(void* self, unsigned tag, int result, std::uint64_t copied) noexcept {
    static_cast<Results*>(self)->by_tag[tag].push_back(result);
    static_cast<Results*>(self)->copied[tag] += copied;
  }
};

Export shape() {
  Export e;
  e.size = 1 << 20;
  e.flags = tflag::kHasFlags | tflag::kSendFlush | tflag::kSendFua;
  e.structured_replies = true;
  return e;
}

UniqueFd dummy_socket() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) throw std::runtime_error("socketpair");
  ::close(fds[1]);
  return UniqueFd(fds[0]);
}

Request write_request(unsigned tag, std::uint64_t offset, std::vector<std::byte>& data, std::uint32_t flags = 0) {
  Request r;
  r.op = ublk::IoOp::kWrite;
  r.offset = offset;
  r.length = static_cast<std::uint32_t>(data.size());
  r.data = data;
  r.tag = tag;
  r.flags = flags;
  return r;
}

Request read_request(unsigned tag, std::uint64_t offset, std::vector<std::byte>& data) {
  Request r = write_request(tag, offset, data);
  r.op = ublk::IoOp::kRead;
  return r;
}

std::uint64_t cookie_at(const std::vector<std::byte>& wire, std::size_t header_offset) {
  return decode_request(std::span(wire).subspan(header_offset).first<kRequestHeaderSize>())->cookie;
}

struct Lines {
  std::vector<std::string> lines;
  LogSink sink() {
    return [this](std::string_view line) { lines.emplace_back(line); };
  }
  [[nodiscard]] std::size_t count(std::string_view part) const {
    return static_cast<std::size_t>(
        std::count_if(lines.begin(), lines.end(), [&](const std::string& l) { return l.find(part) != std::string::npos; }));
  }
};

// A connection of depth 8 on the scripted transport; requests complete into `results`.
class NbdConnection : public ::testing::Test {
 protected:
  // zero_copy_min: as Connection's. attach: give it a socket now.
  Connection& open(std::optional<std::uint64_t> zero_copy_min = std::nullopt, bool attach = true) {
    connection_.emplace(t, 8, shape(), log.sink(), zero_copy_min);
    if (attach) connection_->attach(dummy_socket());
    return *connection_;
  }
  // A request from the queue, and the end of the queue's wake-up (Target::on_batch_end).
  void submit(const Request& request) {
    connection_->submit(request, Completion(owner, request.tag, 0));
    connection_->flush();
  }
  // Sends what the pending send carries, whole; returns those bytes.
  std::vector<std::byte> send_all() {
    const auto wire = t.take();
    connection_->on_sent(static_cast<int>(wire.size()));
    return wire;
  }

  ScriptedTransport t;
  Results results;
  ublk::test::CallbackOwner owner{&Results::record, &results};
  Lines log;
  std::optional<Connection> connection_;
};

using NbdConnectionZeroCopy = NbdConnection;

TEST_F(NbdConnection, WritesGoOutAsHeaderPlusPayloadAndSurviveShortSends) {
  Connection& c = open();
  std::vector<std::byte> a(1000, std::byte{0xaa}), b(3000, std::byte{0xbb});
  submit(write_request(0, 4096, a, ublk::kIoFlagFua));
  ASSERT_EQ(t.sends, 1);
  // The second request waits for the first send to finish: one sendmsg in flight at a time.
  submit(write_request(1, 8192, b));
  EXPECT_EQ(t.sends, 1);
  const auto first = t.take();
  ASSERT_EQ(first.size(), kRequestHeaderSize + a.size());
  const auto h = decode_request(std::span(first).first<kRequestHeaderSize>());
  ASSERT_TRUE(h);
  EXPECT_EQ(h->command, Command::kWrite);
  EXPECT_EQ(h->flags, kCmdFlagFua);
  EXPECT_EQ(h->offset, 4096U);
  EXPECT_EQ(h->length, 1000U);
  // The payload iovec is the request's own buffer: no staging copy.
  EXPECT_EQ(t.pending_send->msg_iov[1].iov_base, a.data());

  // A short send: 10 bytes, then the rest resumes exactly there.
  c.on_sent(10);
  ASSERT_EQ(t.sends, 2);
  const auto rest = t.take();
  EXPECT_EQ(rest.size(), first.size() - 10);
  EXPECT_TRUE(std::equal(rest.begin(), rest.end(), first.begin() + 10));
  c.on_sent(static_cast<int>(rest.size()));
  // The second request goes out at the next flush.
  EXPECT_EQ(t.sends, 2);
  c.flush();
  ASSERT_EQ(t.sends, 3);
  const auto second = send_all();
  ASSERT_EQ(second.size(), kRequestHeaderSize + b.size());

  // Replies in reverse order.
  std::vector<std::byte> replies;
  for (auto reply : {encode_simple_reply({0, cookie_at(second, 0)}), encode_simple_reply({0, h->cookie})}) {
    replies.insert(replies.end(), reply.begin(), reply.end());
  }
  t.deliver(c, replies);
  EXPECT_EQ(results.by_tag[0], std::vector<int>{1000});
  EXPECT_EQ(results.by_tag[1], std::vector<int>{3000});
  EXPECT_EQ(c.held(), 0U);
}

TEST_F(NbdConnection, RequestsWaitForFlushAndGoOutTogether) {
  Connection& c = open();
  std::vector<std::byte> a(512, std::byte{0x11}), b(4096), d(1024, std::byte{0x22});
  c.submit(write_request(0, 0, a), Completion(owner, 0, 0));
  c.submit(read_request(1, 4096, b), Completion(owner, 1, 0));
  EXPECT_EQ(t.sends, 0);  // nothing goes before the flush
  EXPECT_EQ(t.recvs, 0);  // and nothing is owed yet
  c.flush();
  ASSERT_EQ(t.sends, 1);
  EXPECT_EQ(t.recvs, 1);
  const auto first = t.take();
  ASSERT_EQ(first.size(), 2 * kRequestHeaderSize + a.size());
  EXPECT_EQ(decode_request(std::span(first).first<kRequestHeaderSize>())->command, Command::kWrite);
  const auto read_header = decode_request(std::span(first).subspan(kRequestHeaderSize + a.size()).first<kRequestHeaderSize>());
  ASSERT_TRUE(read_header);
  EXPECT_EQ(read_header->command, Command::kRead);
  EXPECT_EQ(read_header->offset, 4096U);

  // A request that comes while the send is out, and the send's end, wait for the next flush.
  c.submit(write_request(2, 8192, d), Completion(owner, 2, 0));
  c.on_sent(static_cast<int>(first.size()));
  EXPECT_EQ(t.sends, 1);
  c.flush();
  ASSERT_EQ(t.sends, 2);
  EXPECT_EQ(t.take().size(), kRequestHeaderSize + d.size());
  c.flush();  // one send in flight: a second flush sends nothing
  EXPECT_EQ(t.sends, 2);
  EXPECT_EQ(t.recvs, 1);  // one receive at a time
}

TEST_F(NbdConnection, AReplyMayOvertakeItsSendCompletion) {
  Connection& c = open();
  std::vector<std::byte> a(512, std::byte{1});
  submit(write_request(3, 0, a));
  const auto wire = t.take();
  t.deliver(c, encode_simple_reply({0, cookie_at(wire, 0)}));
  EXPECT_EQ(results.by_tag[3], std::vector<int>{512});
  c.on_sent(static_cast<int>(wire.size()));  // late: must not resurrect the request
  EXPECT_FALSE(c.broken());
  EXPECT_EQ(c.held(), 0U);
  EXPECT_EQ(results.by_tag[3].size(), 1U);
}

TEST_F(NbdConnection, ABrokenStreamResendsWhatWasHeldOldestFirst) {
  Connection& c = open();
  std::vector<std::byte> a(512, std::byte{1}), b(512, std::byte{2});
  submit(write_request(0, 0, a));
  const auto first = send_all();
  submit(write_request(1, 512, b));
  const auto second = send_all();
  // A reply with a wrong magic breaks the stream; nothing completes.
  auto bad = encode_simple_reply({0, cookie_at(first, 0)});
  bad[0] = std::byte{0};
  t.deliver(c, bad);
  ASSERT_TRUE(c.broken());
  EXPECT_TRUE(results.by_tag.empty());
  EXPECT_FALSE(c.quiet()) << "the hang-up watch is still out";
  c.on_hangup(POLLHUP);  // the break's shutdown ends it
  EXPECT_TRUE(c.quiet());
  c.detach();
  EXPECT_EQ(c.held(), 2U);

  const int sends_before = t.sends;
  c.attach(dummy_socket());
  EXPECT_EQ(t.hangup_watches, 2);
  c.flush();
  ASSERT_EQ(t.sends, sends_before + 1);
  const auto again = send_all();
  ASSERT_EQ(again.size(), 2 * (kRequestHeaderSize + 512));
  const std::uint64_t c0 = cookie_at(again, 0), c1 = cookie_at(again, kRequestHeaderSize + 512);
  // Oldest first, under the same cookies: a reply of the old socket cannot reach the new one.
  EXPECT_EQ(c0, cookie_at(first, 0));
  EXPECT_EQ(c1, cookie_at(second, 0));
  std::vector<std::byte> replies;
  for (auto reply : {encode_simple_reply({0, c1}), encode_simple_reply({0, c0})}) {
    replies.insert(replies.end(), reply.begin(), reply.end());
  }
  t.deliver(c, replies);
  EXPECT_EQ(results.by_tag[0], std::vector<int>{512});
  EXPECT_EQ(results.by_tag[1], std::vector<int>{512});
}

TEST_F(NbdConnection, FailAllCompletesEachHeldRequestOnce) {
  Connection& c = open(std::nullopt, false);
  std::vector<std::byte> a(512);
  submit(write_request(5, 0, a));  // not attached: held
  EXPECT_EQ(t.sends, 0);
  c.fail_all(-EIO);
  c.fail_all(-EIO);
  EXPECT_EQ(results.by_tag[5], std::vector<int>{-EIO});
}

TEST_F(NbdConnection, OneReceiveCompletesEveryReplyInItAndCountsTheCopies) {
  Connection& c = open();
  std::vector<std::vector<std::byte>> buffers(3, std::vector<std::byte>(4096));
  std::vector<std::uint64_t> cookies;
  for (unsigned tag = 0; tag < 3; ++tag) {
    c.submit(read_request(tag, tag * 4096, buffers[tag]), Completion(owner, tag, 0));
  }
  c.flush();
  const auto wire = send_all();
  for (unsigned tag = 0; tag < 3; ++tag) cookies.push_back(cookie_at(wire, tag * kRequestHeaderSize));
  std::vector<std::byte> replies;
  for (unsigned tag : {2U, 0U, 1U}) {
    const auto header = encode_simple_reply({0, cookies[tag]});
    replies.insert(replies.end(), header.begin(), header.end());
    replies.insert(replies.end(), 4096, static_cast<std::byte>(tag + 1));
  }
  const int recvs_before = t.recvs;
  t.deliver(c, replies);
  // One receive took all three replies; none is asked for while nothing is owed.
  EXPECT_EQ(t.recvs, recvs_before);
  EXPECT_EQ(t.pending_recv, nullptr);
  for (unsigned tag = 0; tag < 3; ++tag) {
    EXPECT_EQ(results.by_tag[tag], std::vector<int>{4096});
    // Three replies owed: the payloads came through the staging buffer.
    EXPECT_EQ(results.copied[tag], 4096U);
    EXPECT_EQ(buffers[tag], std::vector<std::byte>(4096, static_cast<std::byte>(tag + 1)));
  }
}

TEST_F(NbdConnection, TheOneReadOwedIsReceivedStraightIntoItsBuffer) {
  Connection& c = open();
  std::vector<std::byte> a(4096), b(4096);
  submit(read_request(0, 0, a));
  EXPECT_TRUE(t.receives_into(a));
  const auto wire = send_all();
  test::Stream reply;
  reply.chunk(kReplyFlagDone, ChunkType::kOffsetData, cookie_at(wire, 0),
              encode_offset_data(0, std::vector<std::byte>(4096, std::byte{9})));
  t.deliver(c, reply.bytes);
  EXPECT_EQ(results.by_tag[0], std::vector<int>{4096});
  EXPECT_EQ(results.copied[0], 0U);
  EXPECT_EQ(a, std::vector<std::byte>(4096, std::byte{9}));
  // The next one too (a queue at depth 1).
  submit(read_request(1, 4096, b));
  EXPECT_TRUE(t.receives_into(b));
}

TEST_F(NbdConnection, AHangUpWhileIdleBreaksTheStream) {
  Connection& c = open();
  EXPECT_EQ(t.hangup_watches, 1);
  EXPECT_EQ(t.recvs, 0);
  c.on_hangup(POLLIN | POLLRDHUP);
  ASSERT_TRUE(c.broken());
  EXPECT_EQ(*c.broken(), "the server closed the connection");
  EXPECT_TRUE(c.quiet());
}

TEST_F(NbdConnection, AHangUpWithAReceiveOutIsLeftToTheReceive) {
  Connection& c = open();
  std::vector<std::byte> a(512), b(512);
  c.submit(write_request(0, 0, a), Completion(owner, 0, 0));
  submit(write_request(1, 512, b));
  const auto first = send_all();
  c.on_hangup(POLLIN | POLLRDHUP);
  EXPECT_FALSE(c.broken()) << "replies that came before the hang-up are still to be read";
  t.deliver(c, encode_simple_reply({0, cookie_at(first, 0)}));
  EXPECT_EQ(results.by_tag[0], std::vector<int>{512});
  ASSERT_NE(t.pending_recv, nullptr);  // the second is still owed
  t.pending_recv = nullptr;
  c.on_received(0);
  EXPECT_TRUE(c.broken());
}

// A completion that submits the next request (as a queue may) while the replies of one receive
// are being parsed: no receive starts until every staged reply is used.
struct Resubmitter {
  Connection* connection = nullptr;
  ublk::test::CallbackOwner* owner = nullptr;
  std::vector<std::byte>* buffer = nullptr;
  int completions = 0;
  static void record(void* self, unsigned tag, int, std::uint64_t) noexcept {
    auto* r = static_cast<Resubmitter*>(self);
    if (++r->completions == 1) r->connection->submit(write_request(tag + 4, 0, *r->buffer), Completion(*r->owner, tag + 4, 0));
  }
};

TEST_F(NbdConnection, ACompletionThatSubmitsDoesNotStartAReceiveMidBatch) {
  Resubmitter resubmitter;
  ublk::test::CallbackOwner resubmitting(&Resubmitter::record, &resubmitter);
  Connection& c = open();
  std::vector<std::byte> a(512), b(512), next(512);
  resubmitter = {&c, &resubmitting, &next, 0};
  c.submit(write_request(0, 0, a), Completion(resubmitting, 0, 0));
  c.submit(write_request(1, 512, b), Completion(resubmitting, 1, 0));
  c.flush();
  const auto wire = send_all();
  std::vector<std::byte> replies;
  for (auto reply : {encode_simple_reply({0, cookie_at(wire, 0)}),
                     encode_simple_reply({0, cookie_at(wire, kRequestHeaderSize + a.size())})}) {
    replies.insert(replies.end(), reply.begin(), reply.end());
  }
  const int recvs_before = t.recvs;
  t.deliver(c, replies);
  EXPECT_EQ(resubmitter.completions, 2);
  EXPECT_EQ(t.recvs, recvs_before);
  EXPECT_FALSE(c.broken());
  EXPECT_EQ(c.held(), 1U);  // the request submitted from the completion
  c.flush();
  EXPECT_EQ(t.recvs, recvs_before + 1);
}

// ---- zero-copy send ----

TEST_F(NbdConnectionZeroCopy, OnlyBatchesCarryingTheThresholdGoZeroCopy) {
  Connection& c = open(4096);
  std::vector<std::byte> small(4095, std::byte{1}), big(4096, std::byte{2}), read_buffer(65536);
  submit(write_request(0, 0, small));
  EXPECT_EQ(t.zc_sends, 0);
  send_all();
  submit(read_request(1, 0, read_buffer));  // no payload to send
  EXPECT_EQ(t.zc_sends, 0);
  send_all();
  submit(write_request(2, 8192, big));
  EXPECT_EQ(t.zc_sends, 1);
  EXPECT_TRUE(t.zc_report_usage);
  EXPECT_EQ(t.pending_send->msg_iov[1].iov_base, big.data());
  send_all();
  EXPECT_EQ(c.zero_copy_counters().write_bytes.load(), 4096U);
  EXPECT_EQ(c.zero_copy_counters().sends.load(), 1U);
  // Off: never.
  ScriptedTransport plain;
  Connection off(plain, 8, shape(), {}, std::nullopt);
  off.attach(dummy_socket());
  off.submit(write_request(0, 0, big), Completion(owner, 5, 0));
  off.flush();
  EXPECT_EQ(plain.sends, 1);
  EXPECT_EQ(plain.zc_sends, 0);
}

TEST_F(NbdConnectionZeroCopy, AReplyBeforeTheNotificationCompletesOnceAfterIt) {
  Connection& c = open(0);
  std::vector<std::byte> a(8192, std::byte{7}), r(512);
  submit(write_request(0, 0, a));
  ASSERT_EQ(t.zc_sends, 1);
  const std::uint32_t id = t.zc_ids.back();
  const auto wire = send_all();
  // A READ sent after it completes as usual: only the WRITE's buffer is the kernel's.
  submit(read_request(1, 0, r));
  const auto read_wire = send_all();
  std::vector<std::byte> replies;
  for (auto reply : {encode_simple_reply({0, cookie_at(wire, 0)}), encode_simple_reply({0, cookie_at(read_wire, 0)})}) {
    replies.insert(replies.end(), reply.begin(), reply.end());
  }
  replies.insert(replies.end(), 512, std::byte{3});
  t.deliver(c, replies);
  EXPECT_EQ(results.by_tag[1], std::vector<int>{512});
  EXPECT_TRUE(results.by_tag[0].empty()) << "completed while the kernel may still read its buffer";
  EXPECT_EQ(c.held(), 1U);
  EXPECT_FALSE(c.quiet());
  c.on_send_notified(id, 0);
  EXPECT_EQ(results.by_tag[0], std::vector<int>{8192});
  EXPECT_EQ(c.held(), 0U);
  c.on_send_notified(id, 0);  // a stray notification changes nothing
  EXPECT_EQ(results.by_tag[0].size(), 1U);
  EXPECT_FALSE(c.broken());
}

TEST_F(NbdConnectionZeroCopy, TheNotificationFirstThenTheReplyCompletesAtTheReply) {
  Connection& c = open(0);
  std::vector<std::byte> a(4096, std::byte{7});
  submit(write_request(0, 0, a));
  const auto wire = send_all();
  c.on_send_notified(t.zc_ids.back(), static_cast<int>(RingIo::kZeroCopyCopied));
  EXPECT_TRUE(results.by_tag[0].empty());  // no reply yet
  EXPECT_EQ(c.zero_copy_counters().copied.load(), 1U);
  t.deliver(c, encode_simple_reply({0, cookie_at(wire, 0)}));
  EXPECT_EQ(results.by_tag[0], std::vector<int>{4096});
}

TEST_F(NbdConnectionZeroCopy, TheNextBatchDoesNotOverwriteHeadersTheKernelStillHolds) {
  Connection& c = open(0);
  std::vector<std::byte> a(4096, std::byte{1}), b(4096, std::byte{2}), d(4096, std::byte{3});
  submit(write_request(0, 0, a));
  const iovec first_header = t.pending_send->msg_iov[0];
  const std::vector<std::byte> first_bytes(static_cast<std::byte*>(first_header.iov_base),
                                           static_cast<std::byte*>(first_header.iov_base) + kRequestHeaderSize);
  const auto first_wire = send_all();
  // Batch 1 is sent but not notified: batch 2 must build its header elsewhere.
  submit(write_request(1, 4096, b));
  ASSERT_EQ(t.zc_sends, 2);
  EXPECT_NE(t.pending_send->msg_iov[0].iov_base, first_header.iov_base);
  EXPECT_NE(t.zc_ids[0], t.zc_ids[1]);
  const auto second_wire = send_all();
  submit(write_request(2, 8192, d));
  const auto third_wire = send_all();
  // The first batch's header memory is what the kernel was given, byte for byte.
  EXPECT_EQ(std::vector<std::byte>(static_cast<std::byte*>(first_header.iov_base),
                                   static_cast<std::byte*>(first_header.iov_base) + kRequestHeaderSize),
            first_bytes);
  EXPECT_EQ(cookie_at(first_bytes, 0), cookie_at(first_wire, 0));
  for (std::uint32_t id : t.zc_ids) c.on_send_notified(id, 0);
  std::vector<std::byte> replies;
  for (const auto* wire : {&third_wire, &first_wire, &second_wire}) {
    const auto reply = encode_simple_reply({0, cookie_at(*wire, 0)});
    replies.insert(replies.end(), reply.begin(), reply.end());
  }
  t.deliver(c, replies);
  for (unsigned tag = 0; tag < 3; ++tag) EXPECT_EQ(results.by_tag[tag], std::vector<int>{4096}) << tag;
}

TEST_F(NbdConnectionZeroCopy, RefusedSendsTheSameBytesPlainlyOnceAndForGood) {
  Connection& c = open(0);
  std::vector<std::byte> a(4096, std::byte{9}), b(4096, std::byte{8});
  submit(write_request(0, 0, a));
  ASSERT_EQ(t.zc_sends, 1);
  const auto wire = t.take();
  c.on_sent(-EOPNOTSUPP);  // a unix socket
  ASSERT_EQ(t.sends, 2);
  EXPECT_EQ(t.zc_sends, 1);  // the resend is a plain sendmsg
  EXPECT_EQ(t.take(), wire);
  c.on_sent(static_cast<int>(wire.size()));
  EXPECT_EQ(t.sends, 2);  // sent once: nothing more goes out
  c.on_send_notified(t.zc_ids.back(), 0);  // the refused call's notification
  t.deliver(c, encode_simple_reply({0, cookie_at(wire, 0)}));
  EXPECT_EQ(results.by_tag[0], std::vector<int>{4096});
  submit(write_request(1, 4096, b));
  EXPECT_EQ(t.sends, 3);
  EXPECT_EQ(t.zc_sends, 1);  // for good
  EXPECT_EQ(log.count("zero-copy send refused"), 1U);
  EXPECT_EQ(c.zero_copy_counters().write_bytes.load(), 0U);
  EXPECT_FALSE(c.broken());
}

TEST_F(NbdConnectionZeroCopy, AKernelWithoutUsageReportsIsAskedAgainWithout) {
  Connection& c = open(0);
  std::vector<std::byte> a(4096, std::byte{9});
  submit(write_request(0, 0, a));
  const auto wire = t.take();
  EXPECT_TRUE(t.zc_report_usage);
  c.on_sent(-EINVAL);  // Linux 6.1: IORING_SEND_ZC_REPORT_USAGE unknown
  ASSERT_EQ(t.zc_sends, 2);
  EXPECT_FALSE(t.zc_report_usage);
  EXPECT_EQ(t.take(), wire);
  EXPECT_FALSE(c.zero_copy_counters().usage_reported.load());
  c.on_sent(static_cast<int>(wire.size()));
  EXPECT_EQ(c.zero_copy_counters().write_bytes.load(), 4096U);
  EXPECT_EQ(log.count("does not say whether it copied"), 1U);
  EXPECT_EQ(log.count("refused"), 0U);
}

TEST_F(NbdConnectionZeroCopy, ABrokenStreamWaitsForTheNotificationAndKeepsAReplyAlreadyIn) {
  Connection& c = open(0, false);
  std::vector<std::byte> a(4096, std::byte{1}), b(2048, std::byte{2});
  // Held before the socket: both go in one batch.
  c.submit(write_request(0, 0, a), Completion(owner, 0, 0));
  c.submit(write_request(1, 8192, b), Completion(owner, 1, 0));
  c.attach(dummy_socket());
  c.flush();
  ASSERT_EQ(t.zc_sends, 1);
  const std::uint32_t id = t.zc_ids.back();
  const auto wire = send_all();
  ASSERT_EQ(wire.size(), 2 * kRequestHeaderSize + a.size() + b.size());
  // The server answers the first, then sends garbage.
  auto bad = encode_simple_reply({0, 12345});
  bad[0] = std::byte{0};
  std::vector<std::byte> replies;
  const auto good = encode_simple_reply({0, cookie_at(wire, 0)});
  replies.insert(replies.end(), good.begin(), good.end());
  replies.insert(replies.end(), bad.begin(), bad.end());
  t.deliver(c, replies);
  ASSERT_TRUE(c.broken());
  EXPECT_TRUE(results.by_tag.empty());
  c.on_hangup(POLLHUP);
  EXPECT_FALSE(c.quiet()) << "the kernel still holds the batch's pages";
  c.on_send_notified(id, 0);
  EXPECT_TRUE(c.quiet());
  // The answered WRITE completes with its answer; the other one is resent.
  EXPECT_EQ(results.by_tag[0], std::vector<int>{4096});
  EXPECT_TRUE(results.by_tag[1].empty());
  c.detach();
  EXPECT_EQ(c.held(), 1U);
  c.attach(dummy_socket());
  c.flush();
  const auto again = send_all();
  ASSERT_EQ(again.size(), kRequestHeaderSize + b.size());
  EXPECT_EQ(cookie_at(again, 0), cookie_at(wire, kRequestHeaderSize + a.size()));
  c.on_send_notified(t.zc_ids.back(), 0);
  t.deliver(c, encode_simple_reply({0, cookie_at(again, 0)}));
  EXPECT_EQ(results.by_tag[0].size(), 1U);
  EXPECT_EQ(results.by_tag[1], std::vector<int>{2048});
}

}  // namespace
}  // namespace ublk::nbd
