#include "shmem_server.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <system_error>

#include "ublk/log.hpp"

namespace ublk::cli {

namespace shm = pool::shm;

namespace {

constexpr unsigned kMaxArenasPerClient = 64;

void make_dirs(const std::string& path) {
  for (std::size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    const std::string dir = path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      throw std::system_error(errno, std::generic_category(), "shared-memory socket directory " + dir);
    }
  }
}

std::string client_name(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) return "client pid " + std::to_string(cred.pid);
  return "client fd " + std::to_string(fd);
}

}  // namespace

std::string shmem_socket_path(const std::string& dir, unsigned device_id) {
  return dir + "/ublkb" + std::to_string(device_id) + ".shmem.sock";
}
std::string shmem_state_path(const std::string& dir, unsigned device_id) {
  return dir + "/ublkb" + std::to_string(device_id) + ".shmem";
}

ShmemServer::ShmemServer(std::string socket_path, SharedMemoryRegistrar& registrar, std::string state_path,
                         Notice notice)
    : path_(std::move(socket_path)), state_path_(std::move(state_path)), registrar_(registrar), notice_(std::move(notice)) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.size() >= sizeof addr.sun_path) {
    throw std::system_error(ENAMETOOLONG, std::generic_category(), "shared-memory socket " + path_);
  }
  std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
  make_dirs(path_);
  listener_.reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!listener_) throw std::system_error(errno, std::generic_category(), "shared-memory socket");
  ::unlink(path_.c_str());  // a dead daemon's
  if (::bind(listener_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener_.get(), 16) != 0) {
    throw std::system_error(errno, std::generic_category(), "shared-memory socket " + path_);
  }
  epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listener_.get();
  if (!epoll_ || ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, listener_.get(), &ev) != 0) {
    const int error = errno;
    ::unlink(path_.c_str());
    throw std::system_error(error, std::generic_category(), "epoll for the shared-memory socket");
  }
  write_state();
}

ShmemServer::~ShmemServer() {
  ::unlink(path_.c_str());
  while (!clients_.empty()) drop(clients_.begin()->first);
  if (!state_path_.empty()) ::unlink(state_path_.c_str());
}

void ShmemServer::serve() {
  epoll_event events[16];
  for (;;) {
    const int n = ::epoll_wait(epoll_.get(), events, 16, 0);
    if (n <= 0) return;
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == listener_.get()) {
        accept_clients();
        continue;
      }
      const auto it = clients_.find(fd);
      if (it == clients_.end()) continue;
      if (!on_message(*it->second)) drop(fd);
    }
  }
}

void ShmemServer::accept_clients() {
  for (;;) {
    UniqueFd socket(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!socket) return;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.fd = socket.get();
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, socket.get(), &ev) != 0) continue;
    tell("shared memory: " + client_name(socket.get()) + " connected");
    auto client = std::make_unique<Client>();
    const int fd = socket.get();
    client->socket = std::move(socket);
    clients_.emplace(fd, std::move(client));
    ++counts_.clients;
    write_state();
  }
}

bool ShmemServer::on_message(Client& client) {
  shm::Message message;
  int stray_fd = -1;
  const std::error_code error = shm::receive_message(client.socket.get(), message, stray_fd);
  if (stray_fd >= 0) ::close(stray_fd);  // clients send no fds
  if (error == std::errc::resource_unavailable_try_again) return true;
  if (error) return false;  // gone, or not speaking the protocol
  if (!client.greeted) {
    const std::error_code bad = shm::check(message, shm::MessageType::kHello);
    if (bad == std::errc::protocol_not_supported) {
      (void)shm::send_message(client.socket.get(),
                              shm::reply(shm::MessageType::kHelloReply, -EPROTONOSUPPORT,
                                         "protocol version " + std::to_string(message.version) +
                                             " is not supported; this daemon speaks version " +
                                             std::to_string(shm::kVersion)));
      return false;
    }
    if (bad) return false;
    client.greeted = true;
    return !shm::send_message(client.socket.get(), shm::reply(shm::MessageType::kHelloReply, 0));
  }
  if (shm::check(message, shm::MessageType::kArenaRequest)) {
    (void)shm::send_message(client.socket.get(),
                            shm::reply(shm::MessageType::kArenaReply, -EPROTO, "expected an arena request"));
    return false;
  }
  return on_arena_request(client, message);
}

bool ShmemServer::on_arena_request(Client& client, const shm::Message& request) {
  const auto refuse = [&](int error, const std::string& reason) {
    tell("shared memory: " + client_name(client.socket.get()) + ": arena refused: " + reason);
    return !shm::send_message(client.socket.get(), shm::reply(shm::MessageType::kArenaReply, -error, reason));
  };
  if (const std::string problem = shm::arena_request_problem(request); !problem.empty()) return refuse(EINVAL, problem);
  if (client.arenas.size() >= kMaxArenasPerClient) {
    return refuse(ENOSPC, "a client has at most " + std::to_string(kMaxArenasPerClient) + " arenas");
  }
  Arena arena;
  try {
    arena.memory = SharedArena::create(request.bytes);
  } catch (const std::system_error& e) {
    return refuse(e.code().value(), std::string("no memory for the arena: ") + e.what());
  }
  const bool read_only = request.flags & shm::kArenaReadOnly;
  try {
    arena.index = registrar_.add_shared_memory({arena.memory.mapping.bytes(), arena.memory.mapping.size()}, read_only);
  } catch (const std::system_error& e) {
    return refuse(e.code().value(), std::string("registering the arena: ") + e.what());
  } catch (const std::exception& e) {
    return refuse(EIO, std::string("registering the arena: ") + e.what());
  }
  shm::Message answer = shm::reply(shm::MessageType::kArenaReply, 0);
  answer.index = arena.index;
  answer.bytes = arena.memory.mapping.size();
  answer.flags = (read_only ? shm::kArenaReadOnly : 0) | (arena.memory.hugetlb ? shm::kArenaHugetlb : 0);
  const int fd = arena.memory.fd.get();
  client.arenas.push_back(std::move(arena));
  ++counts_.arenas;
  ++counts_.arenas_given;
  counts_.arena_bytes += answer.bytes;
  tell("shared memory: " + client_name(client.socket.get()) + ": arena " + std::to_string(answer.index) +
                           ", " + std::to_string(answer.bytes) + " bytes of " +
                           (client.arenas.back().memory.hugetlb ? "hugetlb" : "shmem") + (read_only ? ", read-only" : ""));
  write_state();
  return !shm::send_message(client.socket.get(), answer, fd);
}

void ShmemServer::reclaim(Arena& arena) {
  const std::uint64_t bytes = arena.memory.mapping.size();
  if (const std::error_code error = registrar_.remove_shared_memory(arena.index)) {
    tell("shared memory: arena " + std::to_string(arena.index) + " still in use (" +
                                error.message() + "): kept mapped until the daemon exits");
    kept_.push_back(std::move(arena));
  }
  --counts_.arenas;
  counts_.arena_bytes -= bytes;
  ++counts_.arenas_reclaimed;
}

void ShmemServer::drop(int fd) {
  const auto it = clients_.find(fd);
  if (it == clients_.end()) return;
  Client& client = *it->second;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  const std::string name = client_name(fd);
  const std::size_t arenas = client.arenas.size();
  for (Arena& arena : client.arenas) reclaim(arena);
  clients_.erase(it);
  --counts_.clients;
  tell("shared memory: " + name + " left; " + std::to_string(arenas) + " arena(s) reclaimed");
  write_state();
}

void ShmemServer::tell(const std::string& line) const {
  if (notice_) return notice_(line);
  log(LogLevel::kInfo, line);
}

void ShmemServer::write_state() const {
  if (state_path_.empty()) return;
  const nlohmann::json state = {{"socket", path_},
                                {"clients", counts_.clients},
                                {"arenas", counts_.arenas},
                                {"arena_bytes", counts_.arena_bytes},
                                {"arenas_given", counts_.arenas_given},
                                {"arenas_reclaimed", counts_.arenas_reclaimed}};
  const std::string temp = state_path_ + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << state.dump() << '\n';
    if (!out) return;
  }
  ::rename(temp.c_str(), state_path_.c_str());
}

std::optional<ShmemState> read_shmem_state(const std::string& state_path) {
  std::ifstream in(state_path);
  if (!in) return std::nullopt;
  const nlohmann::json doc = nlohmann::json::parse(in, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return std::nullopt;
  ShmemState state;
  state.socket = doc.value("socket", std::string());
  state.counts.clients = doc.value("clients", 0U);
  state.counts.arenas = doc.value("arenas", 0U);
  state.counts.arena_bytes = doc.value("arena_bytes", std::uint64_t{0});
  state.counts.arenas_given = doc.value("arenas_given", std::uint64_t{0});
  state.counts.arenas_reclaimed = doc.value("arenas_reclaimed", std::uint64_t{0});
  return state;
}

}  // namespace ublk::cli
