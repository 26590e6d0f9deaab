// The daemon's shared-memory socket, driven by libpool's real client over a real unix socket;
// a fake registrar stands in for the kernel's REG_BUF/UNREG_BUF, with the queues' real table.
#include "shmem_server.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <stdexcept>
#include <thread>

#include "pool/shm_client.h"
#include "pool/shm_client.hpp"
#include "pool/shm_protocol.hpp"
#include "shared_memory_table.hpp"

namespace ublk::cli {
namespace {

using namespace std::chrono_literals;

class TableRegistrar final : public SharedMemoryRegistrar {
 public:
  unsigned add_shared_memory(std::span<std::byte> memory, bool read_only) override {
    if (refuse) throw std::runtime_error("REG_BUF: Operation not permitted");
    const unsigned index = next++;
    table.publish(index, memory);
    added.push_back(memory);
    read_only_flags.push_back(read_only);
    return index;
  }
  std::error_code remove_shared_memory(unsigned index) noexcept override {
    table.withdraw(index);
    if (!table.wait_idle(index, 10s)) return std::make_error_code(std::errc::timed_out);
    removed.push_back(index);
    return {};
  }
  SharedMemoryTable table{64};
  unsigned next = 3;  // the kernel's indexes need not start at 0
  bool refuse = false;
  std::vector<std::span<std::byte>> added;
  std::vector<bool> read_only_flags;
  std::vector<unsigned> removed;
};

struct TempDir {
  TempDir() {
    char name[] = "/tmp/shmem_server_test.XXXXXX";
    path = ::mkdtemp(name);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string path;
};

// Serves on this thread while `work` runs on another (the client blocks on the server's replies).
template <class F>
auto served(ShmemServer& server, F&& work) {
  auto done = std::async(std::launch::async, std::forward<F>(work));
  while (done.wait_for(0s) != std::future_status::ready) {
    pollfd p{server.fd(), POLLIN, 0};
    ::poll(&p, 1, 5);
    server.serve();
  }
  return done.get();
}

// Serves until `pred` holds or 5 s passed.
template <class P>
bool serve_until(ShmemServer& server, P pred) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    pollfd p{server.fd(), POLLIN, 0};
    ::poll(&p, 1, 5);
    server.serve();
  }
  return true;
}

TEST(ShmemServer, AClientGetsArenasItSharesWithTheDaemon) {
  TempDir dir;
  TableRegistrar registrar;
  ShmemServer server(dir.path + "/ublkb0.shmem.sock", registrar, dir.path + "/ublkb0.shmem");
  auto client = served(server, [&] { return std::make_unique<pool::ShmClient>(server.path()); });
  const pool::ShmArenaInfo first = served(server, [&] { return client->add_arena(3 << 20); });
  const pool::ShmArenaInfo second = served(server, [&] { return client->add_arena(4096, true); });
  EXPECT_EQ(first.index, 3u);
  EXPECT_EQ(second.index, 4u);
  EXPECT_GE(first.bytes, 3u << 20);
  EXPECT_TRUE(second.read_only);
  ASSERT_EQ(registrar.added.size(), 2u);
  EXPECT_EQ(registrar.read_only_flags, (std::vector<bool>{false, true}));
  // The client's buffer and the daemon's mapping are the same memory, at the same offset.
  auto buffer = client->acquire(8192);
  ASSERT_TRUE(buffer);
  std::memcpy(*buffer, "in place", 9);
  const std::size_t offset = static_cast<std::size_t>(*buffer - first.data);
  ASSERT_LT(offset, first.bytes);
  EXPECT_STREQ(reinterpret_cast<const char*>(registrar.added[0].data() + offset), "in place");
  EXPECT_FALSE(client->release(*buffer));
  const auto state = read_shmem_state(dir.path + "/ublkb0.shmem");
  ASSERT_TRUE(state);
  EXPECT_EQ(state->socket, server.path());
  EXPECT_EQ(state->counts.clients, 1u);
  EXPECT_EQ(state->counts.arenas, 2u);
  EXPECT_EQ(state->counts.arena_bytes, first.bytes + second.bytes);
}

TEST(ShmemServer, ADepartedClientsArenasAreReclaimedOnceTheirIoEnded) {
  TempDir dir;
  TableRegistrar registrar;
  ShmemServer server(dir.path + "/s.sock", registrar, dir.path + "/s.state");
  auto client = served(server, [&] { return std::make_unique<pool::ShmClient>(server.path()); });
  const unsigned index = served(server, [&] { return client->add_arena(1 << 20).index; });
  // A queue is serving a request from the arena when the client goes.
  ASSERT_FALSE(registrar.table.acquire(index, 0, 4096).empty());
  std::atomic<bool> io_ended{false};
  std::thread queue([&] {
    std::this_thread::sleep_for(50ms);
    io_ended.store(true);
    registrar.table.release(index);
  });
  client.reset();
  ASSERT_TRUE(serve_until(server, [&] { return server.counts().clients == 0; }));
  EXPECT_TRUE(io_ended.load());  // the reclaim waited for it
  queue.join();
  EXPECT_EQ(registrar.removed, (std::vector<unsigned>{index}));
  EXPECT_EQ(server.counts().arenas, 0u);
  EXPECT_EQ(server.counts().arenas_reclaimed, 1u);
  EXPECT_FALSE(registrar.table.live(index));
  const auto state = read_shmem_state(dir.path + "/s.state");
  ASSERT_TRUE(state);
  EXPECT_EQ(state->counts.arenas_reclaimed, 1u);
  EXPECT_EQ(state->counts.arenas, 0u);
}

TEST(ShmemServer, BadRequestsGetAReasonAndTheConnectionStaysUsable) {
  TempDir dir;
  TableRegistrar registrar;
  ShmemServer server(dir.path + "/s.sock", registrar);
  auto client = served(server, [&] { return std::make_unique<pool::ShmClient>(server.path()); });
  const auto refusal = [&](std::size_t bytes) {
    return served(server, [&]() -> std::string {
      try {
        client->add_arena(bytes);
        return "";
      } catch (const std::system_error& e) {
        return e.what();
      }
    });
  };
  EXPECT_NE(refusal(0).find("arena size 0"), std::string::npos);
  EXPECT_NE(refusal(std::size_t{2} << 30).find("exceeds the limit"), std::string::npos);
  registrar.refuse = true;
  EXPECT_NE(refusal(4096).find("registering the arena: REG_BUF: Operation not permitted"), std::string::npos);
  registrar.refuse = false;
  EXPECT_EQ(refusal(4096), "");
  EXPECT_EQ(server.counts().arenas, 1u);
}

TEST(ShmemServer, AnotherProtocolVersionIsToldWhichOneTheDaemonSpeaks) {
  TempDir dir;
  TableRegistrar registrar;
  ShmemServer server(dir.path + "/s.sock", registrar);
  const auto answer = served(server, [&] {
    const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, server.path().c_str());
    EXPECT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
    pool::shm::Message hello = pool::shm::hello();
    hello.version = 99;
    EXPECT_FALSE(pool::shm::send_message(fd, hello));
    pool::shm::Message reply;
    int got_fd = -1;
    EXPECT_FALSE(pool::shm::receive_message(fd, reply, got_fd));
    ::close(fd);
    return reply;
  });
  EXPECT_EQ(answer.status, -EPROTONOSUPPORT);
  EXPECT_NE(pool::shm::reason_of(answer).find("speaks version 1"), std::string::npos);
}

TEST(ShmemServer, TheCApiAllocatesFromItsArenasAndSaysWhyWhenItCannot) {
  TempDir dir;
  TableRegistrar registrar;
  ShmemServer server(dir.path + "/s.sock", registrar);
  char error[256] = "";
  ublkpool_shm_client* client = nullptr;
  EXPECT_EQ(ublkpool_shm_connect((dir.path + "/nobody.sock").c_str(), 0, &client, error, sizeof error), -ENOENT);
  EXPECT_NE(std::string(error).find("nobody.sock"), std::string::npos);
  ASSERT_EQ(served(server, [&] { return ublkpool_shm_connect(server.path().c_str(), 256 << 10, &client, error, sizeof error); }), 0);
  void* buffer = nullptr;
  EXPECT_EQ(ublkpool_shm_alloc(client, 4096, &buffer), -ENOMEM);  // no arena yet
  std::size_t granted = 0;
  ASSERT_EQ(served(server, [&] { return ublkpool_shm_add_arena(client, 1 << 20, 0, &granted, error, sizeof error); }), 0);
  EXPECT_GE(granted, std::size_t{1} << 20);
  EXPECT_EQ(ublkpool_shm_arena_count(client), 1u);
  EXPECT_EQ(ublkpool_shm_alloc(client, (256 << 10) + 1, &buffer), -EINVAL);
  ASSERT_EQ(ublkpool_shm_alloc(client, 100000, &buffer), 0);
  EXPECT_GE(ublkpool_shm_capacity(client, buffer), 100000u);
  EXPECT_EQ(ublkpool_shm_free(client, buffer), 0);
  EXPECT_EQ(ublkpool_shm_free(client, buffer), -EINVAL);
  EXPECT_EQ(served(server, [&] { return ublkpool_shm_add_arena(client, 0, 0, nullptr, error, sizeof error); }), -EINVAL);
  EXPECT_NE(std::string(error).find("arena size 0"), std::string::npos);
  ublkpool_shm_close(client);
  EXPECT_TRUE(serve_until(server, [&] { return server.counts().clients == 0; }));
  EXPECT_EQ(registrar.removed.size(), 1u);
}

}  // namespace
}  // namespace ublk::cli
