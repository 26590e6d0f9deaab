#pragma once
// A test aid: the server side of NBD, small and scriptable, to test the client against a
// server that misbehaves on command. Never linked into the daemon.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nbd/protocol.hpp"

namespace ublk::nbd::testing {

struct FakeExport {
  std::string name;                  // the one export served
  std::uint64_t size = 64ULL << 20;
  std::uint16_t flags = tflag::kHasFlags | tflag::kSendFlush | tflag::kSendFua | tflag::kSendTrim |
                        tflag::kSendWriteZeroes | tflag::kCanMultiConn;
  BlockSizeInfo block{512, 4096, 32U << 20};
  bool send_block_size = true;       // answer NBD_INFO_BLOCK_SIZE when asked
  bool fixed_newstyle = true;
  bool offer_structured = true;
  bool know_go = true;               // false: ERR_UNSUP to GO (an old server)
  bool tls_only = false;             // ERR_TLS_REQD to every option
  bool oldstyle = false;             // greet with the oldstyle magic
};

// What the server does wrong, and when.
enum class Misbehaviour : std::uint8_t {
  kNone,
  kBadMagic,       // a reply with a wrong magic
  kUnknownCookie,  // a reply for a cookie never sent
  kShortReply,     // half a READ's data, then the connection is closed
  kErrorReply,     // EIO (an error chunk when structured)
  kDrop,           // close the connection instead of replying
  kIncompleteRead, // structured: DONE after only the first half of a READ's data
};
std::optional<Misbehaviour> parse_misbehaviour(std::string_view name) noexcept;

// The export's bytes, shared by all connections.
class FakeStore {
 public:
  explicit FakeStore(std::uint64_t size) : bytes_(size) {}
  void write(std::uint64_t offset, const std::byte* data, std::size_t length);
  void read(std::uint64_t offset, std::byte* out, std::size_t length);
  void zero(std::uint64_t offset, std::size_t length);
  [[nodiscard]] std::uint64_t size() const noexcept { return bytes_.size(); }

 private:
  std::mutex mutex_;
  std::vector<std::byte> bytes_;
};

struct Script {
  // Atomic: a test changes the script while connections are served.
  std::atomic<Misbehaviour> misbehave{Misbehaviour::kNone};
  std::atomic<unsigned> after{0};  // serve this many requests well first (counted over all connections;
                                // READs only for kIncompleteRead)
  std::atomic<unsigned> times{1};  // then misbehave this many times, then behave again
  std::atomic<bool> reorder{false};  // reply to the requests already received in reverse order
  // A structured READ reply in pieces (its second half first, holes for zeroes, then NONE), or
  // as servers usually send it: one OFFSET_DATA chunk with DONE.
  std::atomic<bool> split_reads{true};
  std::atomic<unsigned> requests{0};
};

// The server's side of the handshake. Returns whether structured replies were agreed, or
// nullopt when the client went away or was refused.
std::optional<bool> serve_handshake(int fd, const FakeExport& ex);
// The transmission phase until the client disconnects, the script drops it, or an error.
void serve_transmission(int fd, FakeStore& store, bool structured, Script& script);

}  // namespace ublk::nbd::testing
