#include "ublk/features.hpp"

#include <gtest/gtest.h>

#include "uapi.hpp"

namespace ublk {
namespace {

TEST(Features, NamesTheSetBitsLowestFirst) {
  Features f(uapi::kFeatureNeedGetData | uapi::kFeatureUserCopy | uapi::kFeatureCmdIoctlEncode);
  EXPECT_EQ(f.names(), (std::vector<std::string>{"NEED_GET_DATA", "CMD_IOCTL_ENCODE", "USER_COPY"}));
  EXPECT_TRUE(f.has(uapi::kFeatureUserCopy));
  EXPECT_FALSE(f.has(uapi::kFeatureZeroCopy));
}

TEST(Features, TheSevenThreeKernelsSetDecodesFully) {
  Features f(0x1fffff);
  const auto names = f.names();
  ASSERT_EQ(names.size(), 21u);
  EXPECT_EQ(names.front(), "SUPPORT_ZERO_COPY");
  EXPECT_EQ(names.back(), "IO_DESC_SIZE");
}

TEST(Features, UnknownBitsAreShownByNumber) {
  Features f((1ull << 40) | 1);
  EXPECT_EQ(f.names(), (std::vector<std::string>{"SUPPORT_ZERO_COPY", "BIT_40"}));
  EXPECT_EQ(f.to_string(), "0x10000000001 (SUPPORT_ZERO_COPY|BIT_40)");
}

TEST(Features, ParsesNamesWithOrWithoutPrefix) {
  EXPECT_EQ(feature_bit("NEED_GET_DATA"), 2u);
  EXPECT_EQ(feature_bit("ublk_f_user_copy"), 7u);
  EXPECT_FALSE(feature_bit("NO_SUCH_FLAG").has_value());
  EXPECT_EQ(feature_name(6), "CMD_IOCTL_ENCODE");
  EXPECT_FALSE(feature_name(63).has_value());
}

}  // namespace
}  // namespace ublk
