#include "mvg/daemon_stats.hpp"

#include <gtest/gtest.h>

#include "fixture.hpp"


namespace mvg {
namespace {

using testing::fixture;

TEST(DaemonStats, AppCopyMakesTwoCopiesPerWrittenByte) {
  // kernel 2334720 B, of which 12288 B were READs; userspace 2322432 B; 2322432 B written.
  auto copies = copies_per_write_byte(fixture("daemon-copy-app-copy.json"));
  ASSERT_TRUE(copies);
  EXPECT_DOUBLE_EQ(*copies, 2.0);
}

TEST(DaemonStats, CopyMakesOne) {
  auto copies = copies_per_write_byte(fixture("daemon-copy.json"));
  ASSERT_TRUE(copies);
  EXPECT_DOUBLE_EQ(*copies, 1.0);
}

TEST(DaemonStats, ShmemZcMakesNone) {
  // 10513 WRITEs served in place (shmem_zc.ios); the kernel copied only the 3 partition-scan READs.
  auto copies = copies_per_write_byte(fixture("daemon-shmem-zc.json"));
  ASSERT_TRUE(copies);
  EXPECT_DOUBLE_EQ(*copies, 0.0);
}

TEST(DaemonStats, NothingToSayWithoutCountersOrWrites) {
  EXPECT_EQ(copies_per_write_byte(""), std::nullopt);
  EXPECT_EQ(copies_per_write_byte("ublk-pool-null: stats on stderr"), std::nullopt);
  EXPECT_EQ(copies_per_write_byte(R"({"copies": {"kernel_bytes": 10, "userspace_bytes": 0}})"), std::nullopt);
  EXPECT_EQ(copies_per_write_byte(
                R"({"copies": {"kernel_bytes": 0, "userspace_bytes": 0}, "ios": {"write_bytes": 0}})"),
            std::nullopt);
}

}  // namespace
}  // namespace mvg
