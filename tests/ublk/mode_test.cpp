#include "ublk/mode.hpp"

#include <gtest/gtest.h>

#include "uapi.hpp"

namespace ublk {
namespace {

constexpr Features kAll(0x1fffff);
constexpr Features k612(uapi::kFeatureCompInTask | uapi::kFeatureNeedGetData | uapi::kFeatureUserRecovery |
                        uapi::kFeatureCmdIoctlEncode | uapi::kFeatureUserCopy);
constexpr Features kOnlyCopy(uapi::kFeatureCompInTask | uapi::kFeatureCmdIoctlEncode);

Mode chosen(Mode requested, Features kernel) {
  auto result = choose_mode(requested, kernel);
  EXPECT_TRUE(std::holds_alternative<ModeChoice>(result));
  return std::get<ModeChoice>(result).mode;
}

TEST(Mode, ParsesItsNames) {
  EXPECT_EQ(parse_mode("copy"), Mode::kCopy);
  EXPECT_EQ(parse_mode("get_data"), Mode::kGetData);
  EXPECT_EQ(parse_mode("user_copy"), Mode::kUserCopy);
  EXPECT_EQ(parse_mode("auto"), Mode::kAuto);
  EXPECT_EQ(parse_mode("zero_copy"), Mode::kZeroCopy);
  EXPECT_EQ(to_string(Mode::kZeroCopy), "zero_copy");
  EXPECT_FALSE(parse_mode("zero-copy").has_value());
  EXPECT_FALSE(parse_mode("").has_value());
}

TEST(Mode, AutoPrefersGetDataThenUserCopyThenCopy) {
  EXPECT_EQ(chosen(Mode::kAuto, kAll), Mode::kGetData);
  EXPECT_EQ(chosen(Mode::kAuto, Features(uapi::kFeatureUserCopy)), Mode::kUserCopy);
  EXPECT_EQ(chosen(Mode::kAuto, kOnlyCopy), Mode::kCopy);
  auto result = choose_mode(Mode::kAuto, kAll);
  EXPECT_NE(std::get<ModeChoice>(result).reason.find("NEED_GET_DATA"), std::string::npos);
}

TEST(Mode, AutoPicksZeroCopyOnlyForATargetThatCanAndAKernelThatHasAutoBufReg) {
  auto result = choose_mode(Mode::kAuto, kAll, ZeroCopyTarget::kYes);
  ASSERT_TRUE(std::holds_alternative<ModeChoice>(result));
  EXPECT_EQ(std::get<ModeChoice>(result).mode, Mode::kZeroCopy);
  EXPECT_NE(std::get<ModeChoice>(result).reason.find("UBLK_F_AUTO_BUF_REG"), std::string::npos);
  // 6.12: no AUTO_BUF_REG, so the order of the other modes.
  result = choose_mode(Mode::kAuto, k612, ZeroCopyTarget::kYes);
  EXPECT_EQ(std::get<ModeChoice>(result).mode, Mode::kGetData);
  // A target that takes its data from buffers never gets it.
  EXPECT_EQ(chosen(Mode::kAuto, kAll), Mode::kGetData);
}

TEST(Mode, ZeroCopyIsRefusedWithoutAutoBufRegOrForATargetThatCannot) {
  auto result = choose_mode(Mode::kZeroCopy, k612, ZeroCopyTarget::kYes);
  ASSERT_TRUE(std::holds_alternative<ModeRefusal>(result));
  EXPECT_NE(std::get<ModeRefusal>(result).message.find("UBLK_F_AUTO_BUF_REG"), std::string::npos);
  result = choose_mode(Mode::kZeroCopy, kAll, ZeroCopyTarget::kNo);
  ASSERT_TRUE(std::holds_alternative<ModeRefusal>(result));
  EXPECT_NE(std::get<ModeRefusal>(result).message.find("loop"), std::string::npos);
  result = choose_mode(Mode::kZeroCopy, kAll, ZeroCopyTarget::kYes);
  ASSERT_TRUE(std::holds_alternative<ModeChoice>(result));
  EXPECT_EQ(std::get<ModeChoice>(result).mode, Mode::kZeroCopy);
  EXPECT_FALSE(check_granted(Mode::kZeroCopy, Features(uapi::kFeatureAutoBufReg)).has_value());
  EXPECT_TRUE(check_granted(Mode::kZeroCopy, Features(uapi::kFeatureUserCopy)).has_value());
}

TEST(Mode, ExplicitModesAreKeptWhenTheKernelHasThem) {
  EXPECT_EQ(chosen(Mode::kCopy, kOnlyCopy), Mode::kCopy);
  EXPECT_EQ(chosen(Mode::kUserCopy, k612), Mode::kUserCopy);
  EXPECT_EQ(chosen(Mode::kGetData, k612), Mode::kGetData);
}

TEST(Mode, AMissingFeatureIsRefusedByName) {
  auto result = choose_mode(Mode::kUserCopy, kOnlyCopy);
  ASSERT_TRUE(std::holds_alternative<ModeRefusal>(result));
  EXPECT_NE(std::get<ModeRefusal>(result).message.find("UBLK_F_USER_COPY"), std::string::npos);
  result = choose_mode(Mode::kGetData, Features(uapi::kFeatureUserCopy));
  ASSERT_TRUE(std::holds_alternative<ModeRefusal>(result));
  EXPECT_NE(std::get<ModeRefusal>(result).message.find("UBLK_F_NEED_GET_DATA"), std::string::npos);
}

TEST(Mode, ADroppedFlagAfterAddDevIsCaught) {
  EXPECT_FALSE(check_granted(Mode::kGetData, Features(uapi::kFeatureNeedGetData)).has_value());
  auto refusal = check_granted(Mode::kGetData, Features(uapi::kFeatureUserCopy));
  ASSERT_TRUE(refusal.has_value());
  EXPECT_NE(refusal->message.find("NEED_GET_DATA"), std::string::npos);
  EXPECT_FALSE(check_granted(Mode::kCopy, Features(0)).has_value());
}

TEST(Mode, EachModeAsksForItsFlag) {
  EXPECT_EQ(required_feature(Mode::kCopy), 0u);
  EXPECT_EQ(required_feature(Mode::kGetData), uapi::kFeatureNeedGetData);
  EXPECT_EQ(required_feature(Mode::kUserCopy), uapi::kFeatureUserCopy);
  // AUTO_BUF_REG alone: SUPPORT_ZERO_COPY is the manual REGISTER_IO_BUF path, not needed here.
  EXPECT_EQ(required_feature(Mode::kZeroCopy), uapi::kFeatureAutoBufReg);
}

}  // namespace
}  // namespace ublk
