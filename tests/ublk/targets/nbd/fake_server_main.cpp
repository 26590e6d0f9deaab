// fake-nbd-server: a test tool (never installed) that serves one in-memory export on a unix
// socket and misbehaves on command, for the daemon's failure tests.
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "fake_server.hpp"

namespace {

using namespace ublk::nbd;
using namespace ublk::nbd::testing;

constexpr const char* kUsage =
    "usage: fake-nbd-server --socket PATH [--size BYTES] [--export NAME] [--misbehave KIND]\n"
    "                       [--after N] [--times N] [--reorder] [--grow-per-connection BYTES]\n"
    "                       [--no-structured] [--no-multi-conn] [--read-only] [--tls-only]\n"
    "KIND: none | bad-magic | unknown-cookie | short-reply | error-reply | drop | incomplete-read\n"
    "Misbehaves on requests after..after+times-1 (counted over all connections), then behaves.\n"
    "--grow-per-connection: each new connection sees the export that many bytes larger.\n";

bool number(std::string_view text, std::uint64_t& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size();
}

int usage_error(const std::string& why) {
  std::fprintf(stderr, "fake-nbd-server: %s\n%s", why.c_str(), kUsage);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string socket_path;
  FakeExport ex;
  Script script;
  std::uint64_t grow = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> std::string_view { return i + 1 < argc ? std::string_view(argv[++i]) : std::string_view(); };
    std::uint64_t n = 0;
    if (arg == "--socket") {
      socket_path = std::string(value());
    } else if (arg == "--size") {
      if (!number(value(), n) || n == 0) return usage_error("bad --size");
      ex.size = n;
    } else if (arg == "--export") {
      ex.name = std::string(value());
    } else if (arg == "--misbehave") {
      const auto kind = parse_misbehaviour(value());
      if (!kind) return usage_error("bad --misbehave");
      script.misbehave = *kind;
    } else if (arg == "--after") {
      if (!number(value(), n)) return usage_error("bad --after");
      script.after = static_cast<unsigned>(n);
    } else if (arg == "--times") {
      if (!number(value(), n)) return usage_error("bad --times");
      script.times = static_cast<unsigned>(n);
    } else if (arg == "--reorder") {
      script.reorder = true;
    } else if (arg == "--grow-per-connection") {
      if (!number(value(), grow)) return usage_error("bad --grow-per-connection");
    } else if (arg == "--no-structured") {
      ex.offer_structured = false;
    } else if (arg == "--no-multi-conn") {
      ex.flags &= static_cast<std::uint16_t>(~tflag::kCanMultiConn);
    } else if (arg == "--tls-only") {
      ex.tls_only = true;
    } else if (arg == "--read-only") {
      ex.flags |= tflag::kReadOnly;
    } else if (arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      return usage_error("unknown option " + std::string(arg));
    }
  }
  if (socket_path.empty() || socket_path.size() >= sizeof(sockaddr_un{}.sun_path)) return usage_error("need --socket PATH");
  ::signal(SIGPIPE, SIG_IGN);

  const int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  std::memcpy(sun.sun_path, socket_path.c_str(), socket_path.size() + 1);
  ::unlink(socket_path.c_str());
  if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&sun), sizeof sun) < 0 || ::listen(listener, 64) < 0) {
    std::fprintf(stderr, "fake-nbd-server: %s: %s\n", socket_path.c_str(), std::strerror(errno));
    return 1;
  }
  // The store covers the largest size any connection may see.
  FakeStore store(ex.size + grow * 1024);
  std::vector<std::thread> connections;
  for (unsigned count = 0;; ++count) {
    const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      break;
    }
    FakeExport this_one = ex;
    if (count < 1024) this_one.size += grow * count;
    connections.emplace_back([fd, this_one, &store, &script] {
      if (const auto structured = serve_handshake(fd, this_one)) serve_transmission(fd, store, *structured, script);
      ::close(fd);
    });
    connections.back().detach();
  }
  return 1;
}
