#include "stats_server.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>

namespace ublk::cli {

namespace {

sockaddr_un address_of(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    throw std::system_error(ENAMETOOLONG, std::generic_category(), "stats socket " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

void make_dirs(const std::string& dir) {
  std::string partial;
  std::size_t from = 0;
  while (from <= dir.size()) {
    const std::size_t slash = dir.find('/', from);
    partial = dir.substr(0, slash);
    if (!partial.empty() && ::mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) {
      throw std::system_error(errno, std::generic_category(), "stats directory " + partial);
    }
    if (slash == std::string::npos) break;
    from = slash + 1;
  }
}

// A client that does not read within this time loses its answer: the daemon does not wait.
constexpr timeval kSendTimeout{0, 200'000};

}  // namespace

std::string stats_dir() {
  const char* dir = std::getenv("UBLK_POOL_RUN_DIR");
  return dir && *dir ? dir : kDefaultStatsDir;
}

std::string stats_socket_path(const std::string& dir, unsigned device_id) {
  return dir + "/ublkb" + std::to_string(device_id) + ".sock";
}

StatsServer::StatsServer(std::string path) : path_(std::move(path)) {
  const sockaddr_un addr = address_of(path_);
  if (const auto slash = path_.rfind('/'); slash != std::string::npos && slash > 0) make_dirs(path_.substr(0, slash));
  listener_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!listener_) throw std::system_error(errno, std::generic_category(), "stats socket");
  // The device number is ours now; a socket file under it is a dead daemon's.
  ::unlink(path_.c_str());
  if (::bind(listener_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener_.get(), 16) != 0) {
    throw std::system_error(errno, std::generic_category(), "stats socket " + path_);
  }
}

StatsServer::~StatsServer() { ::unlink(path_.c_str()); }

unsigned StatsServer::serve(const std::function<std::string()>& document) {
  unsigned served = 0;
  for (;;) {
    UniqueFd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client) return served;  // EAGAIN: no one else waits (or a transient error: next poll)
    ::setsockopt(client.get(), SOL_SOCKET, SO_SNDTIMEO, &kSendTimeout, sizeof kSendTimeout);
    const std::string text = document();
    std::size_t sent = 0;
    while (sent < text.size()) {
      const ssize_t n = ::send(client.get(), text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      sent += static_cast<std::size_t>(n);
    }
    ++served;
  }
}

std::optional<std::string> fetch_stats(const std::string& path, std::string& error) {
  sockaddr_un addr{};
  try {
    addr = address_of(path);
  } catch (const std::system_error& e) {
    error = e.what();
    return std::nullopt;
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd || ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    error = path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  const timeval timeout{5, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string text;
  char buffer[16384];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = path + ": " + std::strerror(errno);
      return std::nullopt;
    }
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  if (text.empty()) {
    error = path + ": the daemon closed the connection without an answer";
    return std::nullopt;
  }
  return text;
}

}  // namespace ublk::cli
