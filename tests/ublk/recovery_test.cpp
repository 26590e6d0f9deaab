#include "ublk/recovery.hpp"

#include <gtest/gtest.h>

#include "uapi.hpp"

namespace ublk {
namespace {

TEST(Recovery, EachPolicyAsksForItsFlagsAndIsReadBackFromThem) {
  for (auto policy : {RecoveryPolicy::kNone, RecoveryPolicy::kRequeue, RecoveryPolicy::kReissue,
                      RecoveryPolicy::kFailIo}) {
    // ADD_DEV hands back more flags than asked (encoded opcodes, per-IO daemon, ...).
    const Features granted(recovery_flags(policy) | uapi::kFeatureCmdIoctlEncode | uapi::kFeatureNeedGetData);
    EXPECT_EQ(recovery_policy_of(granted), policy) << to_string(policy);
  }
  EXPECT_EQ(recovery_flags(RecoveryPolicy::kNone), 0u);
  EXPECT_EQ(recovery_flags(RecoveryPolicy::kRequeue), uapi::kFeatureUserRecovery);
  EXPECT_EQ(recovery_flags(RecoveryPolicy::kReissue), uapi::kFeatureUserRecovery | uapi::kFeatureUserRecoveryReissue);
  EXPECT_EQ(recovery_flags(RecoveryPolicy::kFailIo), uapi::kFeatureUserRecovery | uapi::kFeatureUserRecoveryFailIo);
}

TEST(Recovery, AFailIoFlagWithoutRecoveryIsNoRecovery) {
  EXPECT_EQ(recovery_policy_of(Features(uapi::kFeatureUserRecoveryFailIo)), RecoveryPolicy::kNone);
}

TEST(Recovery, RefusesAPolicyTheKernelLacksByName) {
  const Features v6_12(0x1fe);  // recovery and reissue, no FAIL_IO
  EXPECT_FALSE(check_recovery_support(RecoveryPolicy::kNone, Features(0)));
  EXPECT_FALSE(check_recovery_support(RecoveryPolicy::kReissue, v6_12));
  const auto refusal = check_recovery_support(RecoveryPolicy::kFailIo, v6_12);
  ASSERT_TRUE(refusal);
  EXPECT_NE(refusal->find("USER_RECOVERY_FAIL_IO"), std::string::npos) << *refusal;
  EXPECT_NE(refusal->find("fail-io"), std::string::npos) << *refusal;
  EXPECT_TRUE(check_recovery_support(RecoveryPolicy::kRequeue, Features(uapi::kFeatureNeedGetData)));
}

TEST(Recovery, ModeComesFromTheDeviceFlags) {
  EXPECT_EQ(mode_of(Features(uapi::kFeatureNeedGetData | uapi::kFeatureUserRecovery)), Mode::kGetData);
  EXPECT_EQ(mode_of(Features(uapi::kFeatureUserCopy)), Mode::kUserCopy);
  EXPECT_EQ(mode_of(Features(uapi::kFeatureUserRecovery | uapi::kFeatureCmdIoctlEncode)), Mode::kCopy);
}

}  // namespace
}  // namespace ublk
