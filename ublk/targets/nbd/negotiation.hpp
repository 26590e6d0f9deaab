#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "handshake_channel.hpp"
#include "protocol.hpp"
#include "task.hpp"

namespace ublk::nbd {

// What the handshake settled: the export's shape and what the transmission phase may use.
struct Export {
  std::uint64_t size = 0;
  std::uint16_t flags = 0;  // transmission flags (tflag::*)
  BlockSizeInfo block;
  bool structured_replies = false;
  bool used_go = false;  // false: the server only knew NBD_OPT_EXPORT_NAME
  [[nodiscard]] bool read_only() const noexcept { return flags & tflag::kReadOnly; }
  [[nodiscard]] bool has(std::uint16_t flag) const noexcept { return (flags & tflag::kHasFlags) && (flags & flag); }
};

class NegotiationError : public std::runtime_error {
 public:
  enum class Kind : std::uint8_t {
    kClosed,        // the server hung up
    kNotNbd,        // no NBD greeting, or one we do not speak (oldstyle)
    kTlsRequired,   // the server serves this export over TLS only
    kUnknownExport,
    kRefused,       // any other option error
    kProtocol,      // a malformed reply
  };
  NegotiationError(Kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  [[nodiscard]] Kind kind() const noexcept { return kind_; }

 private:
  Kind kind_;
};

// The fixed newstyle handshake on a connected socket: NBD_OPT_STRUCTURED_REPLY, then NBD_OPT_GO
// asking for NBD_INFO_BLOCK_SIZE; NBD_OPT_EXPORT_NAME when the server does not know GO (or
// speaks only plain newstyle). When it is done the socket is in the transmission phase. It ends
// with NegotiationError, or std::system_error for a socket error. `io` and `export_name` must
// outlive the task.
Task<Export> handshake(HandshakeChannel& io, std::string_view export_name);

// The handshake on a connected blocking socket. Setup path: blocking, throws NegotiationError, or
// std::system_error for a socket error.
Export negotiate(int fd, std::string_view export_name);

}  // namespace ublk::nbd
