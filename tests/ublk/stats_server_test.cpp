#include "stats_server.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <future>

namespace ublk::cli {
namespace {

class StatsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/stats_server_test.XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(StatsServerTest, AClientGetsTheDocumentOfTheMomentItAsked) {
  const std::string path = stats_socket_path(dir_ + "/run/ublk-pool", 7);
  EXPECT_EQ(path, dir_ + "/run/ublk-pool/ublkb7.sock");
  StatsServer server(path);  // makes the missing directories
  int asked = 0;
  for (int round = 1; round <= 2; ++round) {
    auto client = std::async(std::launch::async, [&] {
      std::string error;
      return fetch_stats(path, error).value_or("error: " + error);
    });
    pollfd fd{server.fd(), POLLIN, 0};
    ASSERT_EQ(::poll(&fd, 1, 5000), 1);
    EXPECT_EQ(server.serve([&] { return "{\"n\":" + std::to_string(++asked) + "}\n"; }), 1u);
    EXPECT_EQ(client.get(), "{\"n\":" + std::to_string(round) + "}\n");
  }
  EXPECT_EQ(server.serve([] { return std::string("unused"); }), 0u) << "nobody waits: serve returns at once";
}

TEST_F(StatsServerTest, ReplacesADeadDaemonsSocketAndRemovesItsOwn) {
  const std::string path = stats_socket_path(dir_, 1);
  { StatsServer first(path); }
  EXPECT_FALSE(std::filesystem::exists(path));
  // A daemon killed with SIGKILL leaves its socket file behind: the next one takes the path.
  const std::string kept = dir_ + "/kept.sock";
  {
    StatsServer killed(path);
    std::filesystem::rename(path, kept);
  }
  std::filesystem::rename(kept, path);
  ASSERT_TRUE(std::filesystem::is_socket(path));
  StatsServer next(path);
  std::string error;
  auto client = std::async(std::launch::async, [&] { return fetch_stats(path, error).value_or(""); });
  pollfd fd{next.fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&fd, 1, 5000), 1);
  next.serve([] { return std::string("{}"); });
  EXPECT_EQ(client.get(), "{}");
}

TEST_F(StatsServerTest, NoDaemonIsAnErrorNamingThePath) {
  std::string error;
  EXPECT_FALSE(fetch_stats(dir_ + "/ublkb9.sock", error).has_value());
  EXPECT_NE(error.find("ublkb9.sock"), std::string::npos);
}

}  // namespace
}  // namespace ublk::cli
