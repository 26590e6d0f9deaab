#include "connection.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

namespace ublk::nbd {

namespace {
// A request's tag in the low bits of its cookie, a per-connection sequence number above: a
// late or forged reply for an earlier use of the tag matches nothing.
constexpr unsigned kTagBits = 16;
constexpr std::size_t kMaxIov = IOV_MAX;
// Request::flags holds the descriptor's op_flags shifted right by 8 (see Queue).
constexpr bool wants_fua(const Request& r) noexcept { return (r.flags & kIoFlagFua) != 0; }
}  // namespace

Connection::Connection(Transport& transport, unsigned depth, const Export& shape, LogSink log)
    : transport_(transport), shape_(shape), log_(std::move(log)), slots_(depth), receiver_(shape.structured_replies) {
  batch_.headers.reserve(depth);
  batch_.iov.reserve(std::min<std::size_t>(2 * std::size_t{depth}, kMaxIov));
  batch_.members.reserve(depth);
}

void Connection::attach(UniqueFd socket) {
  socket_ = std::move(socket);
  broken_.reset();
  receiver_.reset(shape_.structured_replies);
  kick();
}

void Connection::detach() noexcept {
  socket_.reset();
  broken_.reset();
  receiver_.reset();
  batch_ = SendBatch{};
  batch_.headers.reserve(slots_.size());
  batch_.members.reserve(slots_.size());
  // Everything held goes out again on the next connection, oldest first.
  std::vector<unsigned> again;
  for (unsigned tag = 0; tag < slots_.size(); ++tag) {
    Slot& s = slots_[tag];
    if (s.state == State::kFree) continue;
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
  kick();
}

void Connection::fail_all(int error) noexcept {
  for (Slot& s : slots_) {
    if (s.state != State::kFree) finish(s, error);
  }
  to_send_.clear();
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
  --held_;
  const Completion done = *s.done;
  s.done.reset();
  done(result, s.reply.copied);
}

void Connection::kick() noexcept {
  if (!socket_ || broken_) return;
  if (!recv_busy_) {
    recv_busy_ = true;
    transport_.recv(socket_.get(), receiver_.receive_into());
  }
  if (!gather_) flush();
}

void Connection::flush() noexcept {
  if (socket_ && !broken_ && !send_busy_ && !to_send_.empty()) start_batch();
}

void Connection::start_batch() noexcept {
  batch_.headers.clear();
  batch_.iov.clear();
  batch_.members.clear();
  batch_.first = 0;
  while (!to_send_.empty() && batch_.iov.size() + 2 <= kMaxIov && batch_.headers.size() < slots_.size()) {
    const unsigned tag = to_send_.front();
    to_send_.pop_front();
    Slot& s = slots_[tag];
    if (s.state != State::kQueued) continue;
    batch_.headers.push_back(encode_request(s.header));
    batch_.iov.push_back({batch_.headers.back().data(), kRequestHeaderSize});
    if (s.header.command == Command::kWrite && s.header.length > 0) {
      batch_.iov.push_back({s.request.data.data(), s.header.length});
    }
    s.state = State::kSending;
    batch_.members.emplace_back(tag, s.cookie);
  }
  if (batch_.iov.empty()) return;
  send_rest();
}

void Connection::send_rest() noexcept {
  batch_.message = msghdr{};
  batch_.message.msg_iov = batch_.iov.data() + batch_.first;
  batch_.message.msg_iovlen = batch_.iov.size() - batch_.first;
  send_busy_ = true;
  transport_.sendmsg(socket_.get(), &batch_.message);
}

void Connection::on_sent(int result) noexcept {
  send_busy_ = false;
  if (broken_) return;
  if (result <= 0) return break_stream(result == 0 ? "the send made no progress" : std::strerror(-result));
  auto left = static_cast<std::size_t>(result);
  while (left > 0 && batch_.first < batch_.iov.size()) {
    iovec& v = batch_.iov[batch_.first];
    if (left >= v.iov_len) {
      left -= v.iov_len;
      ++batch_.first;
    } else {
      v.iov_base = static_cast<std::byte*>(v.iov_base) + left;
      v.iov_len -= left;
      left = 0;
    }
  }
  if (batch_.first < batch_.iov.size()) return send_rest();
  for (const auto& [tag, cookie] : batch_.members) {
    Slot& s = slots_[tag];
    if (s.state == State::kSending && s.cookie == cookie) s.state = State::kSent;
  }
  batch_.members.clear();
  kick();
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
    if (event.result < 0 && log_) {
      log_("server error " + std::string(std::strerror(-event.result)) + " for a request at offset " +
           std::to_string(s.request.offset));
    }
    finish(s, event.result);
  }
  recv_busy_ = false;
  kick();
}

void Connection::break_stream(std::string why) noexcept {
  if (broken_) return;
  if (log_) log_("connection lost: " + why);
  broken_ = std::move(why);
  // Outstanding IO on the socket returns at once; the socket closes in detach() once it has.
  ::shutdown(socket_.get(), SHUT_RDWR);
}

}  // namespace ublk::nbd
