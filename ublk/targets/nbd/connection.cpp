#include "connection.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "silent_peer.hpp"

namespace ublk::nbd {

namespace {
// A request's tag in the low bits of its cookie, a per-connection sequence number above: a
// late or forged reply for an earlier use of the tag matches nothing.
constexpr unsigned kTagBits = 16;
constexpr std::size_t kMaxIov = IOV_MAX;
// Request::flags holds the descriptor's op_flags shifted right by 8 (see Queue).
constexpr bool wants_fua(const Request& r) noexcept { return (r.flags & kIoFlagFua) != 0; }
}  // namespace

Connection::Connection(Transport& transport, unsigned depth, const Export& shape, LogSink log,
                       std::optional<std::uint64_t> zero_copy_min)
    : transport_(transport),
      shape_(shape),
      log_(std::move(log)),
      slots_(depth),
      receiver_(shape.structured_replies),
      zero_copy_min_(zero_copy_min) {
  // Plain sends need one batch; zero-copy ones a few more while their notifications are due.
  batches_.reserve(zero_copy_min ? 4 : 1);
  (void)free_batch();
}

Connection::SendBatch& Connection::free_batch() {
  for (auto& batch : batches_) {
    if (!batch->sending && batch->notifications == 0) return *batch;
  }
  auto batch = std::make_unique<SendBatch>();
  batch->id = static_cast<std::uint32_t>(batches_.size());
  batch->headers.reserve(slots_.size());
  batch->iov.reserve(std::min<std::size_t>(2 * slots_.size(), kMaxIov));
  batch->members.reserve(slots_.size());
  batches_.push_back(std::move(batch));
  return *batches_.back();
}

void Connection::attach(UniqueFd socket) {
  socket_ = std::move(socket);
  limit_silent_peer(socket_.get());
  broken_.reset();
  receiver_.reset(shape_.structured_replies);
  hangup_busy_ = true;
  transport_.watch_hangup(socket_.get());
}

void Connection::detach() noexcept {
  socket_.reset();
  broken_.reset();
  receiver_.reset();
  // Quiet: no batch is being sent or waits for a notification, so none is pinned any more.
  for (auto& batch : batches_) {
    batch->sending = false;
    batch->members.clear();
  }
  current_ = nullptr;
  awaiting_ = 0;
  // Everything held goes out again on the next connection, oldest first.
  std::vector<unsigned> again;
  for (unsigned tag = 0; tag < slots_.size(); ++tag) {
    Slot& s = slots_[tag];
    if (s.state == State::kReplied) finish(s, s.replied);  // not while quiet; for safety
    if (s.state == State::kFree) continue;
    s.pinned = false;
    s.state = State::kQueued;
    s.reply.reset_progress();
    again.push_back(tag);
  }
  std::sort(again.begin(), again.end(), [&](unsigned a, unsigned b) { return slots_[a].cookie < slots_[b].cookie; });
  to_send_.assign(again.begin(), again.end());
}

void Connection::disconnect() noexcept {
  if (!socket_ || broken_) return;
  const auto header = encode_request({0, Command::kDisconnect, 0, 0, 0});
  [[maybe_unused]] auto n = ::send(socket_.get(), header.data(), header.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::shutdown(socket_.get(), SHUT_WR);
}

std::optional<RequestHeader> Connection::translate(const Request& r, int& refusal) const noexcept {
  RequestHeader h;
  h.offset = r.offset;
  h.length = r.length;
  const bool writes = r.op == IoOp::kWrite || r.op == IoOp::kDiscard || r.op == IoOp::kWriteZeroes;
  if (writes && shape_.read_only()) {
    refusal = -EROFS;
    return std::nullopt;
  }
  switch (r.op) {
    case IoOp::kRead: h.command = Command::kRead; break;
    case IoOp::kWrite:
      h.command = Command::kWrite;
      if (wants_fua(r) && shape_.has(tflag::kSendFua)) h.flags |= kCmdFlagFua;
      break;
    case IoOp::kFlush:
      // A server without a cache to flush has nothing to do.
      if (!shape_.has(tflag::kSendFlush)) {
        refusal = 0;
        return std::nullopt;
      }
      h.command = Command::kFlush;
      h.offset = 0;
      h.length = 0;
      break;
    case IoOp::kDiscard:
      if (!shape_.has(tflag::kSendTrim)) {
        refusal = -EOPNOTSUPP;
        return std::nullopt;
      }
      h.command = Command::kTrim;
      break;
    case IoOp::kWriteZeroes:
      if (!shape_.has(tflag::kSendWriteZeroes)) {
        refusal = -EOPNOTSUPP;
        return std::nullopt;
      }
      h.command = Command::kWriteZeroes;
      break;
    default: refusal = -EOPNOTSUPP; return std::nullopt;
  }
  const bool moves_data = h.command == Command::kRead || h.command == Command::kWrite;
  if (moves_data && r.data.size() < r.length) {
    refusal = -EIO;  // no buffer to send from or receive into
    return std::nullopt;
  }
  return h;
}

void Connection::submit(const Request& request, Completion done) noexcept {
  int refusal = 0;
  auto header = translate(request, refusal);
  if (!header) return done(refusal);
  if (request.tag >= slots_.size() || slots_[request.tag].state != State::kFree) {
    if (log_) log_("request for tag " + std::to_string(request.tag) + " while it is busy: failed");
    return done(-EIO);
  }
  Slot& s = slots_[request.tag];
  s.state = State::kQueued;
  s.cookie = (next_generation_++ << kTagBits) | request.tag;
  header->cookie = s.cookie;
  s.header = *header;
  s.request = request;
  s.done = done;
  s.reply = PendingReply{};
  s.reply.command = header->command;
  s.reply.offset = request.offset;
  s.reply.length = request.length;
  if (header->command == Command::kRead) s.reply.data = request.data.first(request.length);
  ++held_;
  to_send_.push_back(request.tag);
}

void Connection::fail_all(int error) noexcept {
  for (Slot& s : slots_) {
    // A WRITE the server answered keeps its answer.
    if (s.state == State::kReplied) finish(s, s.replied);
    if (s.state != State::kFree) finish(s, error);
  }
  to_send_.clear();
  awaiting_ = 0;
}

PendingReply* Connection::find(std::uint64_t cookie) noexcept {
  const auto tag = static_cast<unsigned>(cookie & ((1U << kTagBits) - 1));
  if (tag >= slots_.size()) return nullptr;
  Slot& s = slots_[tag];
  // A reply may overtake our send's completion (the server read the bytes before the CQE was
  // reaped), so a request still being sent counts; one not yet sent does not.
  if (s.cookie != cookie || (s.state != State::kSent && s.state != State::kSending)) return nullptr;
  return &s.reply;
}

void Connection::finish(Slot& s, int result) noexcept {
  if (result == 0 && (s.header.command == Command::kRead || s.header.command == Command::kWrite)) {
    result = static_cast<int>(s.request.length);
  }
  s.state = State::kFree;
  s.pinned = false;
  --held_;
  const Completion done = *s.done;
  s.done.reset();
  done(result, s.reply.copied);
}

void Connection::complete(Slot& s, int result) noexcept {
  if (!s.pinned) return finish(s, result);
  s.state = State::kReplied;
  s.replied = result;
}

void Connection::unpin(SendBatch& batch) noexcept {
  if (batch.sending || batch.notifications > 0) return;
  for (const auto& [tag, cookie] : batch.members) {
    Slot& s = slots_[tag];
    if (s.cookie != cookie || !s.pinned) continue;
    s.pinned = false;
    if (s.state == State::kReplied) finish(s, s.replied);
  }
  batch.members.clear();
}

const PendingReply* Connection::owed() const noexcept {
  if (awaiting_ != 1) return nullptr;
  const auto awaited = [](const Slot& s) { return s.state == State::kSending || s.state == State::kSent; };
  if (awaited(slots_[last_sent_])) return &slots_[last_sent_].reply;
  const auto it = std::find_if(slots_.begin(), slots_.end(), awaited);
  return it == slots_.end() ? nullptr : &it->reply;
}

void Connection::receive() noexcept {
  if (!socket_ || broken_ || recv_busy_ || awaiting_ == 0) return;
  recv_busy_ = true;
  const std::span<iovec> into = receiver_.receive_into(owed());
  recv_message_ = msghdr{};
  recv_message_.msg_iov = into.data();
  recv_message_.msg_iovlen = into.size();
  transport_.recvmsg(socket_.get(), &recv_message_);
}

void Connection::flush() noexcept {
  if (socket_ && !broken_ && !send_busy_ && !to_send_.empty()) start_batch();
  receive();
}

void Connection::start_batch() noexcept {
  SendBatch& batch = free_batch();
  batch.headers.clear();
  batch.iov.clear();
  batch.members.clear();
  batch.first = 0;
  batch.write_bytes = 0;
  while (!to_send_.empty() && batch.iov.size() + 2 <= kMaxIov && batch.headers.size() < slots_.size()) {
    const unsigned tag = to_send_.front();
    to_send_.pop_front();
    Slot& s = slots_[tag];
    if (s.state != State::kQueued) continue;
    batch.headers.push_back(encode_request(s.header));
    batch.iov.push_back({batch.headers.back().data(), kRequestHeaderSize});
    if (s.header.command == Command::kWrite && s.header.length > 0) {
      batch.iov.push_back({s.request.data.data(), s.header.length});
      batch.write_bytes += s.header.length;
    }
    s.state = State::kSending;
    ++awaiting_;
    last_sent_ = tag;
    batch.members.emplace_back(tag, s.cookie);
  }
  if (batch.iov.empty()) return;
  batch.sending = true;
  batch.zero_copy = zero_copy_min_ && batch.write_bytes > 0 && batch.write_bytes >= *zero_copy_min_;
  if (batch.zero_copy) {
    for (const auto& [tag, cookie] : batch.members) {
      Slot& s = slots_[tag];
      if (s.header.command == Command::kWrite && s.header.length > 0) s.pinned = true;
    }
  }
  current_ = &batch;
  send_rest();
}

void Connection::send_rest() noexcept {
  SendBatch& batch = *current_;
  batch.message = msghdr{};
  batch.message.msg_iov = batch.iov.data() + batch.first;
  batch.message.msg_iovlen = batch.iov.size() - batch.first;
  send_busy_ = true;
  if (!batch.zero_copy) return transport_.sendmsg(socket_.get(), &batch.message);
  ++batch.notifications;
  ++notifications_due_;
  transport_.sendmsg_zc(socket_.get(), &batch.message, report_usage_, batch.id);
}

// The socket (or the kernel) cannot send zero-copy: the same bytes go again, plainly. Nothing of
// the failed call was sent.
void Connection::refused_zero_copy(int result) noexcept {
  if (result == -EINVAL && report_usage_) {
    // Before Linux 6.2 the kernel knows no IORING_SEND_ZC_REPORT_USAGE: try without it.
    report_usage_ = false;
    zero_copy_counters_.usage_reported.store(false, std::memory_order_relaxed);
    if (log_) log_("zero-copy send: the kernel does not say whether it copied (before Linux 6.2)");
    return send_rest();
  }
  zero_copy_min_.reset();
  if (log_) log_("zero-copy send refused (" + std::string(std::strerror(-result)) + "): plain sendmsg from now on");
  current_->zero_copy = false;
  send_rest();
}

void Connection::on_sent(int result) noexcept {
  send_busy_ = false;
  if (!current_) return;
  SendBatch& batch = *current_;
  if (broken_) {
    batch.sending = false;
    return unpin(batch);
  }
  if (batch.zero_copy && (result == -EOPNOTSUPP || result == -EINVAL)) return refused_zero_copy(result);
  if (result <= 0) {
    batch.sending = false;
    unpin(batch);
    return break_stream(result == 0 ? "the send made no progress" : std::strerror(-result));
  }
  if (batch.zero_copy) zero_copy_counters_.sends.fetch_add(1, std::memory_order_relaxed);
  auto left = static_cast<std::size_t>(result);
  while (left > 0 && batch.first < batch.iov.size()) {
    iovec& v = batch.iov[batch.first];
    if (left >= v.iov_len) {
      left -= v.iov_len;
      ++batch.first;
    } else {
      v.iov_base = static_cast<std::byte*>(v.iov_base) + left;
      v.iov_len -= left;
      left = 0;
    }
  }
  if (batch.first < batch.iov.size()) return send_rest();
  for (const auto& [tag, cookie] : batch.members) {
    Slot& s = slots_[tag];
    if (s.state == State::kSending && s.cookie == cookie) s.state = State::kSent;
  }
  if (batch.zero_copy) zero_copy_counters_.write_bytes.fetch_add(batch.write_bytes, std::memory_order_relaxed);
  batch.sending = false;
  unpin(batch);
}

void Connection::on_send_notified(std::uint32_t id, int usage) noexcept {
  if (id >= batches_.size() || batches_[id]->notifications == 0) {
    if (log_) log_("a zero-copy notification for no send: ignored");
    return;
  }
  SendBatch& batch = *batches_[id];
  --batch.notifications;
  --notifications_due_;
  if (static_cast<std::uint32_t>(usage) & RingIo::kZeroCopyCopied) {
    zero_copy_counters_.copied.fetch_add(1, std::memory_order_relaxed);
  }
  unpin(batch);
}

void Connection::on_received(int result) noexcept {
  if (broken_ || result <= 0) {
    recv_busy_ = false;
    if (broken_) return;
    return break_stream(result == 0 ? "the server closed the connection" : std::strerror(-result));
  }
  // recv_busy_ stays set while the replies received are parsed: a completion that submits a
  // request from inside finish() must not start a receive before what is staged is used up.
  receiver_.received(static_cast<std::size_t>(result));
  for (;;) {
    ReplyEvent event = receiver_.next(*this);
    if (event.kind == ReplyEvent::Kind::kMore) break;
    if (event.kind == ReplyEvent::Kind::kBroken) {
      recv_busy_ = false;
      return break_stream("malformed reply: " + event.why);
    }
    Slot& s = slots_[event.cookie & ((1U << kTagBits) - 1)];
    --awaiting_;
    if (event.result < 0 && log_) {
      log_("server error " + std::string(std::strerror(-event.result)) + " for a request at offset " +
           std::to_string(s.request.offset));
    }
    complete(s, event.result);
  }
  recv_busy_ = false;
  receive();
}

void Connection::on_hangup(int result) noexcept {
  hangup_busy_ = false;
  // With a receive out, it sees the end itself, after the replies that came before it.
  if (result > 0 && !recv_busy_) break_stream("the server closed the connection");
}

void Connection::break_stream(std::string why) noexcept {
  if (broken_) return;
  if (log_) log_("connection lost: " + why);
  broken_ = std::move(why);
  // Outstanding IO on the socket returns at once; the socket closes in detach() once it has.
  ::shutdown(socket_.get(), SHUT_RDWR);
  if (notifications_due_ > 0) {
    // A zero-copy send's pages stay with TCP until the peer acknowledges them, and detach()
    // waits for them. A peer that is gone without a reset never acknowledges, and TCP would
    // retransmit for minutes: disconnecting drops what is queued, so the notifications come now.
    sockaddr unspecified{};
    unspecified.sa_family = AF_UNSPEC;
    (void)::connect(socket_.get(), &unspecified, sizeof unspecified);
  }
}

}  // namespace ublk::nbd
