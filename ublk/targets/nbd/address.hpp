#pragma once
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ublk/unique_fd.hpp"

namespace ublk::nbd {

// Where an NBD server listens: `unix:PATH` or `tcp:HOST:PORT` (HOST may be a [bracketed] IPv6
// literal).
struct Address {
  enum class Kind : std::uint8_t { kUnix, kTcp };
  Kind kind = Kind::kUnix;
  std::string path;  // kUnix
  std::string host;  // kTcp
  std::string port;  // kTcp
  [[nodiscard]] std::string to_string() const;
};

struct AddressError {
  std::string message;
};
std::variant<Address, AddressError> parse_address(std::string_view text);

// One socket address an Address stands for.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  [[nodiscard]] int family() const noexcept { return storage.ss_family; }
  [[nodiscard]] const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&storage); }
};
// What to connect to, in the order to try: the unix path, or what getaddrinfo finds for the TCP
// host and port (which may ask DNS, and block). Throws std::runtime_error ("cannot resolve ...").
std::vector<SocketAddress> resolve(const Address& address);

// A blocking, connected stream socket (TCP_NODELAY for TCP). Throws std::system_error naming
// the address. step_limit > 0 bounds the connect and each later blocking send or receive on the
// socket (SO_SNDTIMEO / SO_RCVTIMEO; until clear_step_limit) for a caller that must not block
// for long.
UniqueFd connect_to(const Address& address, std::chrono::milliseconds step_limit = {});
// Blocking sends and receives wait as long as they need again.
void clear_step_limit(int fd) noexcept;
// A freshly connected socket as the transmission phase wants it, however it was connected:
// blocking, and for TCP without Nagle's delay (requests are small and each one is waited for).
void make_transmission_socket(int fd) noexcept;
// The connected socket's peer is this host: a unix socket, a loopback address, or the socket's
// own local address (a server reached through one of this host's interfaces).
bool peer_is_this_host(int fd) noexcept;

}  // namespace ublk::nbd
