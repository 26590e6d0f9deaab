#include "pool/shm_client.hpp"

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "pool/arena_allocator.hpp"
#include "pool/shm_protocol.hpp"

namespace pool {

namespace {

std::system_error failure(int error, const std::string& what) { return {error, std::generic_category(), what}; }

// A received memfd and this process's mapping of it.
class MappedArena {
 public:
  MappedArena(int fd, std::size_t bytes) : fd_(fd), bytes_(bytes) {
    void* at = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (at == MAP_FAILED) {
      const int error = errno;
      ::close(fd);
      throw failure(error, "mmap of the arena");
    }
    data_ = static_cast<std::byte*>(at);
  }
  ~MappedArena() {
    ::munmap(data_, bytes_);
    ::close(fd_);
  }
  MappedArena(const MappedArena&) = delete;
  MappedArena& operator=(const MappedArena&) = delete;
  [[nodiscard]] std::byte* data() const noexcept { return data_; }

 private:
  int fd_;
  std::byte* data_ = nullptr;
  std::size_t bytes_;
};

}  // namespace

struct ShmClient::Arena {
  Arena(int fd, ShmArenaInfo arena_info, const SizeClasses& classes)
      : mapping(fd, arena_info.bytes), info(arena_info), allocator({mapping.data(), arena_info.bytes}, classes) {
    info.data = mapping.data();
  }
  MappedArena mapping;
  ShmArenaInfo info;
  ArenaAllocator allocator;
};

ShmClient::ShmClient(const std::string& socket_path, ShmClientConfig config)
    : path_(socket_path), classes_(config.max_buffer_size, config.steps_per_doubling) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.size() >= sizeof addr.sun_path) throw failure(ENAMETOOLONG, "ShmClient: socket " + path_);
  std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
  socket_ = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (socket_ < 0) throw failure(errno, "ShmClient: socket");
  try {
    if (::connect(socket_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      throw failure(errno, "ShmClient: connect to " + path_);
    }
    if (auto error = shm::send_message(socket_, shm::hello())) throw std::system_error(error, "ShmClient: hello to " + path_);
    shm::Message answer;
    int fd = -1;
    if (auto error = shm::receive_message(socket_, answer, fd)) {
      throw std::system_error(error, "ShmClient: no hello from " + path_);
    }
    if (fd >= 0) ::close(fd);
    if (auto error = shm::check(answer, shm::MessageType::kHelloReply)) {
      throw std::system_error(error, "ShmClient: " + path_ + " does not speak version " +
                                         std::to_string(shm::kVersion) + " of the shared-memory protocol");
    }
    if (answer.status < 0) throw failure(-answer.status, "ShmClient: " + path_ + " refused: " + shm::reason_of(answer));
  } catch (...) {
    ::close(socket_);
    throw;
  }
}

ShmClient::~ShmClient() {
  arenas_.clear();
  ::close(socket_);  // the daemon takes the arenas back
}

const ShmArenaInfo& ShmClient::add_arena(std::size_t bytes, bool read_only) {
  const std::string what = "ShmClient::add_arena(" + std::to_string(bytes) + ") from " + path_;
  if (auto error = shm::send_message(socket_, shm::arena_request(bytes, read_only ? shm::kArenaReadOnly : 0))) {
    throw std::system_error(error, what);
  }
  shm::Message answer;
  int fd = -1;
  if (auto error = shm::receive_message(socket_, answer, fd)) throw std::system_error(error, what);
  if (auto error = shm::check(answer, shm::MessageType::kArenaReply)) {
    if (fd >= 0) ::close(fd);
    throw std::system_error(error, what);
  }
  if (answer.status < 0) {
    if (fd >= 0) ::close(fd);
    throw failure(-answer.status, what + ": " + shm::reason_of(answer));
  }
  if (fd < 0) throw failure(EPROTO, what + ": the reply carried no memfd");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || static_cast<std::uint64_t>(st.st_size) < answer.bytes || answer.bytes < bytes) {
    ::close(fd);
    throw failure(EPROTO, what + ": the memfd is smaller than the reply says");
  }
  ShmArenaInfo info;
  info.index = answer.index;
  info.bytes = answer.bytes;
  info.hugetlb = answer.flags & shm::kArenaHugetlb;
  info.read_only = answer.flags & shm::kArenaReadOnly;
  arenas_.push_back(std::make_unique<Arena>(fd, info, classes_));
  return arenas_.back()->info;
}

std::vector<ShmArenaInfo> ShmClient::arenas() const {
  std::vector<ShmArenaInfo> out;
  for (const auto& arena : arenas_) out.push_back(arena->info);
  return out;
}

Expected<std::byte*> ShmClient::acquire(std::size_t length) noexcept {
  if (classes_.index_for(length) == kNoClass) return std::errc::invalid_argument;
  for (auto& arena : arenas_) {
    if (auto buffer = arena->allocator.acquire(length)) return buffer;
  }
  return std::errc::not_enough_memory;
}

std::error_code ShmClient::release(const void* data) noexcept {
  for (auto& arena : arenas_) {
    if (arena->allocator.contains(data)) return arena->allocator.release(data);
  }
  return std::make_error_code(std::errc::invalid_argument);
}

std::size_t ShmClient::capacity(const void* data) const noexcept {
  for (const auto& arena : arenas_) {
    if (arena->allocator.contains(data)) return arena->allocator.capacity(data);
  }
  return 0;
}

}  // namespace pool
