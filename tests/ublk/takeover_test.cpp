#include "takeover.hpp"

#include <gtest/gtest.h>

namespace ublk::cli {
namespace {

RecoverableDevice device() {
  RecoverableDevice d;
  d.id = 6;
  d.queues = 2;
  d.depth = 64;
  d.max_io_bytes = 1U << 20;
  d.size_bytes = 64ULL << 20;
  d.logical_block = 512;
  d.mode = Mode::kGetData;
  d.policy = RecoveryPolicy::kReissue;
  return d;
}

DaemonOptions parsed(std::vector<std::string_view> args) {
  return std::get<DaemonOptions>(parse_daemon_options(args, DaemonKind::kMem));
}

TEST(Takeover, TheCreationCommandLineAgrees) {
  EXPECT_EQ(takeover_conflict(parsed({"--id", "6", "--recover-or-create", "--recovery-reissue", "--mode", "get_data",
                                      "--queues", "2", "--depth", "64", "--size", "64M"}),
                              device()),
            std::nullopt);
  EXPECT_EQ(takeover_conflict(parsed({"--recover", "6", "--mode", "auto"}), device()), std::nullopt);
  EXPECT_EQ(takeover_conflict(parsed({"--recover", "6"}), device()), std::nullopt);
}

TEST(Takeover, EachConflictingOptionIsNamedWithBothValues) {
  auto conflict = [](std::vector<std::string_view> args) {
    args.insert(args.end(), {"--recover", "6"});
    return takeover_conflict(parsed(args), device()).value_or("");
  };
  EXPECT_EQ(conflict({"--depth", "32"}), "--depth 32 conflicts with device 6, created with 64");
  EXPECT_EQ(conflict({"--queues", "1"}), "--queues 1 conflicts with device 6, created with 2");
  EXPECT_NE(conflict({"--size", "1G"}).find("--size 1073741824 conflicts"), std::string::npos);
  EXPECT_NE(conflict({"--max-io", "64K"}).find("--max-io 65536 conflicts"), std::string::npos);
  EXPECT_NE(conflict({"--logical-block", "4096"}).find("--logical-block 4096"), std::string::npos);
  EXPECT_EQ(conflict({"--mode", "copy"}), "--mode copy conflicts with device 6, created with get_data");
  EXPECT_NE(conflict({"--recovery"}).find("--recovery  conflicts with device 6, created with policy"), std::string::npos);
  EXPECT_NE(conflict({"--id", "7"}).find("--id 7 conflicts"), std::string::npos);
}

TEST(Takeover, NbdQueuesAndMaxIoAreUpperBounds) {
  auto nbd = [](std::vector<std::string_view> args) {
    args.insert(args.end(), {"--connect", "unix:/run/x.sock", "--recover", "6"});
    return takeover_conflict(std::get<DaemonOptions>(parse_daemon_options(args, DaemonKind::kNbd)), device(),
                             DaemonKind::kNbd);
  };
  // Asked for 4 queues and 2M requests; the export allowed 2 and 1M when the device was made.
  EXPECT_EQ(nbd({"--queues", "4", "--max-io", "2M"}), std::nullopt);
  EXPECT_EQ(nbd({"--queues", "1"}).value_or(""), "--queues 1 conflicts with device 6, created with 2");
  EXPECT_NE(nbd({"--max-io", "64K"}).value_or("").find("--max-io 65536 conflicts"), std::string::npos);
  EXPECT_NE(nbd({"--depth", "32"}).value_or("").find("--depth 32 conflicts"), std::string::npos);
}

TEST(Takeover, TheBackendMustStillFitTheDevice) {
  DaemonOptions o = parsed({"--recover", "6"});
  adopt_device_shape(device(), o);
  TargetTraits same;
  same.size_bytes = 64ULL << 20;
  same.logical_block = 512;
  same.max_queues = 2;
  same.max_io_bytes = 1U << 20;
  EXPECT_EQ(backend_shape_conflict(same, o), std::nullopt);
  EXPECT_EQ(backend_shape_conflict(TargetTraits{}, o), std::nullopt);  // a backend that imposes nothing
  TargetTraits t = same;
  t.size_bytes = 32ULL << 20;
  EXPECT_EQ(backend_shape_conflict(t, o).value_or(""),
            "device 6 has 67108864 bytes, the backend now 33554432: not taking it over");
  t = same;
  t.logical_block = 4096;
  EXPECT_NE(backend_shape_conflict(t, o).value_or("").find("logical block of 512 bytes, the backend now 4096"),
            std::string::npos);
  t = same;
  t.max_queues = 1;
  EXPECT_NE(backend_shape_conflict(t, o).value_or("").find("2 queues, the backend now allows 1"), std::string::npos);
  t = same;
  t.max_io_bytes = 128U << 10;
  EXPECT_NE(backend_shape_conflict(t, o).value_or("").find("the backend now takes 131072"), std::string::npos);
  t = same;
  t.max_io_bytes = 2U << 20;  // larger requests are fine
  EXPECT_EQ(backend_shape_conflict(t, o), std::nullopt);
}

TEST(Takeover, TheDeviceShapeReplacesTheOptions) {
  DaemonOptions o = parsed({"--recover", "6"});
  adopt_device_shape(device(), o);
  EXPECT_EQ(o.id, 6);
  EXPECT_EQ(o.queues, 2u);
  EXPECT_EQ(o.depth, 64u);
  EXPECT_EQ(o.size, 64ULL << 20);
  EXPECT_EQ(o.mode, Mode::kGetData);
  EXPECT_EQ(o.recovery, RecoveryPolicy::kReissue);
}

}  // namespace
}  // namespace ublk::cli
