#include "negotiation.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <system_error>
#include <vector>

namespace ublk::nbd {

namespace {

using Kind = NegotiationError::Kind;

// A socket with a step limit (SO_RCVTIMEO / SO_SNDTIMEO) says EAGAIN when the step ran out.
int timed_out(int error) noexcept { return error == EAGAIN || error == EWOULDBLOCK ? ETIMEDOUT : error; }

Task<void> read_exact(HandshakeChannel& io, std::span<std::byte> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    const int n = co_await io.receive(out.subspan(done));
    if (n == -EINTR) continue;
    if (n < 0) throw std::system_error(timed_out(-n), std::generic_category(), "reading from the NBD server");
    if (n == 0) throw NegotiationError(Kind::kClosed, "the NBD server closed the connection during the handshake");
    done += static_cast<std::size_t>(n);
  }
}

Task<void> write_all(HandshakeChannel& io, std::span<const std::byte> in) {
  std::size_t done = 0;
  while (done < in.size()) {
    const int n = co_await io.send(in.subspan(done));
    if (n == -EINTR) continue;
    if (n < 0) throw std::system_error(timed_out(-n), std::generic_category(), "writing to the NBD server");
    done += static_cast<std::size_t>(n);
  }
}

template <std::size_t N>
Task<std::array<std::byte, N>> read_array(HandshakeChannel& io) {
  std::array<std::byte, N> a{};
  co_await read_exact(io, a);
  co_return a;
}

struct OptReply {
  OptReplyHeader header;
  std::vector<std::byte> payload;
  [[nodiscard]] bool is_error() const noexcept { return static_cast<std::uint32_t>(header.type) & kRepErrorBit; }
  // Error replies may carry a human-readable message.
  [[nodiscard]] std::string message() const {
    std::string why(to_string(header.type));
    if (is_error() && !payload.empty()) {
      why += ": ";
      why.append(reinterpret_cast<const char*>(payload.data()), payload.size());
    }
    return why;
  }
};

// Servers send short replies; anything larger than this is not a reply we asked for.
constexpr std::uint32_t kMaxOptReply = 64 * 1024;

Task<OptReply> read_opt_reply(HandshakeChannel& io, Option expected) {
  OptReply r;
  r.header = decode_opt_reply_header(co_await read_array<kOptReplyHeaderSize>(io));
  if (r.header.magic != kOptReplyMagic) throw NegotiationError(Kind::kProtocol, "bad option reply magic from the NBD server");
  if (r.header.option != static_cast<std::uint32_t>(expected)) {
    throw NegotiationError(Kind::kProtocol, "the NBD server replied to option " + std::to_string(r.header.option) +
                                                " instead of " + std::to_string(static_cast<unsigned>(expected)));
  }
  if (r.header.length > kMaxOptReply) throw NegotiationError(Kind::kProtocol, "oversized option reply from the NBD server");
  r.payload.resize(r.header.length);
  co_await read_exact(io, r.payload);
  co_return r;
}

[[noreturn]] void refuse(const OptReply& reply, std::string_view what, std::string_view export_name) {
  if (reply.header.type == OptReplyType::kErrTlsReqd) {
    throw NegotiationError(Kind::kTlsRequired, "the NBD server requires TLS, which ublk-pool-nbd does not speak");
  }
  if (reply.header.type == OptReplyType::kErrUnknown) {
    throw NegotiationError(Kind::kUnknownExport, "the NBD server has no export '" + std::string(export_name) + "'");
  }
  throw NegotiationError(Kind::kRefused, "the NBD server refused " + std::string(what) + ": " + reply.message());
}

Task<bool> ask_structured_replies(HandshakeChannel& io, std::string_view export_name) {
  const auto request = encode_option({Option::kStructuredReply, {}});
  co_await write_all(io, request);
  const OptReply reply = co_await read_opt_reply(io, Option::kStructuredReply);
  if (reply.header.type == OptReplyType::kAck) co_return true;
  if (reply.header.type == OptReplyType::kErrTlsReqd) refuse(reply, "structured replies", export_name);
  if (!reply.is_error()) throw NegotiationError(Kind::kProtocol, "unexpected reply to NBD_OPT_STRUCTURED_REPLY");
  co_return false;  // an old server: simple replies only
}

// true: GO succeeded and `out` is filled. false: the server does not know GO.
Task<bool> go(HandshakeChannel& io, std::string_view export_name, Export& out) {
  const std::array wanted{InfoType::kBlockSize};
  const auto request = encode_option({Option::kGo, encode_go(export_name, wanted)});
  co_await write_all(io, request);
  bool have_export = false;
  for (;;) {
    const OptReply reply = co_await read_opt_reply(io, Option::kGo);
    if (reply.header.type == OptReplyType::kAck) break;
    if (reply.header.type == OptReplyType::kErrUnsup) co_return false;
    if (reply.is_error()) refuse(reply, "NBD_OPT_GO", export_name);
    if (reply.header.type != OptReplyType::kInfo) continue;  // allowed to be ignored
    const auto type = info_type(reply.payload);
    if (!type) throw NegotiationError(Kind::kProtocol, "empty NBD_REP_INFO from the NBD server");
    if (*type == static_cast<std::uint16_t>(InfoType::kExport)) {
      const auto info = decode_info_export(reply.payload);
      if (!info) throw NegotiationError(Kind::kProtocol, "malformed NBD_INFO_EXPORT from the NBD server");
      out.size = info->size;
      out.flags = info->flags;
      have_export = true;
    } else if (*type == static_cast<std::uint16_t>(InfoType::kBlockSize)) {
      const auto info = decode_info_block_size(reply.payload);
      if (!info) throw NegotiationError(Kind::kProtocol, "malformed NBD_INFO_BLOCK_SIZE from the NBD server");
      out.block = *info;
    }
  }
  if (!have_export) throw NegotiationError(Kind::kProtocol, "the NBD server ended NBD_OPT_GO without NBD_INFO_EXPORT");
  out.used_go = true;
  co_return true;
}

Task<void> export_name_option(HandshakeChannel& io, std::string_view export_name, bool no_zeroes, Export& out) {
  OptionRequest request{Option::kExportName, {}};
  const auto name = std::as_bytes(std::span(export_name.data(), export_name.size()));
  request.data.assign(name.begin(), name.end());
  const auto encoded = encode_option(request);
  co_await write_all(io, encoded);
  try {
    const auto reply = co_await read_array<10>(io);
    out.size = get_be64(reply);
    out.flags = get_be16(std::span(reply).subspan(8));
    if (!no_zeroes) co_await read_array<kExportNamePadding>(io);
  } catch (const NegotiationError& e) {
    if (e.kind() != Kind::kClosed) throw;
    throw NegotiationError(Kind::kUnknownExport, "the NBD server closed the connection on export '" +
                                                     std::string(export_name) + "' (unknown export, or TLS required)");
  }
}

// Every step completes before the coroutine would wait for it.
class BlockingChannel final : public HandshakeChannel {
 public:
  explicit BlockingChannel(int fd) noexcept : fd_(fd) {}

 private:
  bool start(Step& step, std::coroutine_handle<> /*waiting*/) noexcept override {
    const auto bytes = step.bytes();
    const ssize_t n = step.sending() ? ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL)
                                     : ::recv(fd_, bytes.data(), bytes.size(), 0);
    step.finish(n < 0 ? -errno : static_cast<int>(n));
    return false;
  }
  int fd_;
};

}  // namespace

Task<Export> handshake(HandshakeChannel& io, std::string_view export_name) {
  if (get_be64(co_await read_array<8>(io)) != kNbdMagic) {
    throw NegotiationError(Kind::kNotNbd, "not an NBD server (no NBDMAGIC)");
  }
  const std::uint64_t style = get_be64(co_await read_array<8>(io));
  if (style == kOldstyleMagic) {
    throw NegotiationError(Kind::kNotNbd, "the NBD server speaks only the oldstyle handshake, which is not supported");
  }
  if (style != kOptMagic) throw NegotiationError(Kind::kNotNbd, "not an NBD newstyle server (no IHAVEOPT)");
  const std::uint16_t server_flags = get_be16(co_await read_array<2>(io));
  const bool fixed = server_flags & kServerFixedNewstyle;
  const bool no_zeroes = server_flags & kServerNoZeroes;
  std::array<std::byte, 4> client{};
  put_be32(client, (fixed ? kClientFixedNewstyle : 0) | (no_zeroes ? kClientNoZeroes : 0));
  co_await write_all(io, client);

  Export out;
  if (fixed) {
    out.structured_replies = co_await ask_structured_replies(io, export_name);
    if (co_await go(io, export_name, out)) co_return out;
  }
  co_await export_name_option(io, export_name, no_zeroes, out);
  co_return out;
}

Export negotiate(int fd, std::string_view export_name) {
  BlockingChannel io(fd);
  Task<Export> task = handshake(io, export_name);
  task.run();  // no step waits: it returns with the task done
  return task.result();
}

}  // namespace ublk::nbd
