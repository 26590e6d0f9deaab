#include "tag_state.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace ublk {
namespace {

using S = TagState;
using E = TagEvent;

TEST(TagState, AWriteInGetDataModeGoesRoundTheLoop) {
  S s = S::kIdle;
  for (E e : {E::kFetchSent, E::kNeedData, E::kDataIn, E::kCommitted, E::kRequest, E::kCommitted}) {
    auto next = next_state(s, e);
    ASSERT_TRUE(next.has_value()) << to_string(e) << " in " << to_string(s);
    s = *next;
  }
  EXPECT_EQ(s, S::kWaitingRequest);
}

TEST(TagState, AbortsRetireATagTheKernelHolds) {
  EXPECT_EQ(next_state(S::kWaitingRequest, E::kAborted), S::kRetired);
  EXPECT_EQ(next_state(S::kWaitingData, E::kAborted), S::kRetired);
  EXPECT_FALSE(next_state(S::kInTarget, E::kAborted).has_value());  // the kernel holds nothing then
}

TEST(TagState, EveryOtherTransitionIsRefused) {
  const std::vector<S> states = {S::kIdle, S::kWaitingRequest, S::kWaitingData, S::kInTarget, S::kRetired};
  const std::vector<E> events = {E::kFetchSent, E::kRequest, E::kNeedData, E::kDataIn, E::kCommitted, E::kAborted};
  int allowed = 0;
  for (S s : states) {
    for (E e : events) {
      if (next_state(s, e)) ++allowed;
    }
  }
  EXPECT_EQ(allowed, 7);  // the arrows of the diagram in tag_state.hpp
  EXPECT_FALSE(next_state(S::kIdle, E::kRequest).has_value());
  EXPECT_FALSE(next_state(S::kWaitingRequest, E::kCommitted).has_value());
  EXPECT_FALSE(next_state(S::kWaitingData, E::kRequest).has_value());
  EXPECT_FALSE(next_state(S::kRetired, E::kFetchSent).has_value());
}

TEST(TagState, KernelHoldsOnlyWhileACommandIsOutstanding) {
  EXPECT_TRUE(kernel_holds(S::kWaitingRequest));
  EXPECT_TRUE(kernel_holds(S::kWaitingData));
  EXPECT_FALSE(kernel_holds(S::kInTarget));
  EXPECT_FALSE(kernel_holds(S::kIdle));
  EXPECT_FALSE(kernel_holds(S::kRetired));
  EXPECT_EQ(to_string(S::kWaitingData), "waiting-data");
}

}  // namespace
}  // namespace ublk
