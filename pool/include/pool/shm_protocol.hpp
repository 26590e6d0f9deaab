#pragma once
// The shared-memory socket's wire protocol (a ublk daemon started with --shmem, and
// pool::ShmClient). Unix SOCK_SEQPACKET: one fixed-size Message a packet, in host byte order
// (both ends are on the same machine).
//   client: kHello                 daemon: kHelloReply (status 0, or why not)
//   client: kArenaRequest(bytes)   daemon: kArenaReply(index, bytes) + the arena's memfd (SCM_RIGHTS),
//                                          or status < 0 and a reason, and no fd
// The client may ask for arenas as long as it stays connected; when it goes, the daemon takes
// its arenas back once the IO in flight on them has ended.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace pool::shm {

inline constexpr std::uint32_t kMagic = 0x48535055;  // "UPSH"
inline constexpr std::uint16_t kVersion = 1;
// The largest arena one request gets (the kernel pins it whole).
inline constexpr std::uint64_t kMaxArenaBytes = std::uint64_t{1} << 30;

enum class MessageType : std::uint16_t { kHello = 1, kHelloReply = 2, kArenaRequest = 3, kArenaReply = 4 };

// Arena flags (request and reply).
inline constexpr std::uint32_t kArenaReadOnly = 1U << 0;  // registered read-only: the device only WRITEs from it
inline constexpr std::uint32_t kArenaHugetlb = 1U << 1;   // reply: backed by hugetlb pages (else shmem)
inline constexpr std::uint32_t kArenaRequestFlags = kArenaReadOnly;

struct Message {
  std::uint32_t magic = kMagic;
  std::uint16_t version = kVersion;
  std::uint16_t type = 0;     // MessageType
  std::int32_t status = 0;    // replies: 0, or a negative errno with `reason`
  std::uint32_t flags = 0;    // kArena*
  std::uint64_t bytes = 0;    // request: at least this many; reply: the arena's size
  std::uint32_t index = 0;    // reply: the REG_BUF index the daemon registered it under
  std::uint32_t reserved = 0;
  char reason[128] = {};      // NUL-terminated
};
static_assert(sizeof(Message) == 160);

Message hello() noexcept;
Message arena_request(std::uint64_t bytes, std::uint32_t flags) noexcept;
Message reply(MessageType type, int status, std::string_view reason = {}) noexcept;
[[nodiscard]] std::string reason_of(const Message& message);

// A message received as `type`: protocol_error for another magic or type,
// protocol_not_supported for another version.
[[nodiscard]] std::error_code check(const Message& message, MessageType type) noexcept;
// What is wrong with an arena request, empty if nothing.
[[nodiscard]] std::string arena_request_problem(const Message& request);

// One message, with `fd` attached when it is >= 0.
[[nodiscard]] std::error_code send_message(int socket, const Message& message, int fd = -1) noexcept;
// One message into `message`; an attached fd (close-on-exec) into `fd`, else -1. A closed peer
// gives std::errc::connection_reset, a packet of another size std::errc::protocol_error.
[[nodiscard]] std::error_code receive_message(int socket, Message& message, int& fd) noexcept;

}  // namespace pool::shm
