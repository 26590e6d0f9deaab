#pragma once
#include <chrono>

namespace ublk::nbd {

// How long a TCP connection may go without a sign of life from the server before the kernel
// gives it up (ETIMEDOUT), while the daemon waits on it: data sent and not acknowledged
// (TCP_USER_TIMEOUT), or, with everything acknowledged, keepalive probes not answered. Without
// it a server host that vanished without a reset (a crash, a partition) would hold the IO for
// TCP's own retransmission limit, about 15 minutes, or for ever while only replies are awaited.
inline constexpr std::chrono::seconds kSilentPeerLimit{10};

// Applies kSilentPeerLimit to a connected TCP socket; anything else is left alone.
void limit_silent_peer(int fd) noexcept;

}  // namespace ublk::nbd
