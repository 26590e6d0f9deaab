#include "pool/size_classes.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace {

TEST(SizeClasses, PowersOfTwoByDefault) {
  pool::SizeClasses classes(1 << 20, 1);
  ASSERT_EQ(classes.count(), 9u);
  for (std::size_t i = 0; i < classes.count(); ++i) EXPECT_EQ(classes.size(i), std::size_t{4096} << i);
}

TEST(SizeClasses, EveryLengthRoundsUpToTheSmallestFittingClass) {
  for (unsigned steps : {1u, 2u, 4u, 8u}) {
    pool::SizeClasses classes(std::size_t{32} << 20, steps);
    for (std::size_t length = 1; length <= classes.max_size(); length += (length < 65536 ? 1 : 4093)) {
      const std::size_t index = classes.index_for(length);
      ASSERT_NE(index, pool::kNoClass) << length;
      ASSERT_GE(classes.size(index), length);
      ASSERT_EQ(classes.size(index) % 4096, 0u);
      if (index > 0) {
        ASSERT_LT(classes.size(index - 1), length) << "steps " << steps;
      }
    }
    EXPECT_EQ(classes.index_for(classes.max_size()), classes.count() - 1);
  }
}

TEST(SizeClasses, StepsCutWaste) {
  pool::SizeClasses classes(std::size_t{1} << 20, 4);
  // 64K..128K in four steps: 64K, 80K, 96K, 112K.
  EXPECT_EQ(classes.size(classes.index_for(65537)), std::size_t{80} << 10);
  EXPECT_EQ(classes.size(classes.index_for(100 << 10)), std::size_t{112} << 10);
}

TEST(SizeClasses, ZeroAndOversizedHaveNoClass) {
  pool::SizeClasses classes(1 << 20, 1);
  EXPECT_EQ(classes.index_for(0), pool::kNoClass);
  EXPECT_EQ(classes.index_for((1 << 20) + 1), pool::kNoClass);
}

TEST(SizeClasses, AlignmentPicksAClassWhoseBuffersAreAligned) {
  pool::SizeClasses classes(1 << 20, 2);
  EXPECT_EQ(classes.index_for(4096, 3), pool::kNoClass);
  EXPECT_EQ(classes.index_for(4096, 0), pool::kNoClass);
  EXPECT_EQ(classes.index_for(4096, std::size_t{4} << 20), pool::kNoClass);
  const std::size_t index = classes.index_for(5000, 65536);
  ASSERT_NE(index, pool::kNoClass);
  EXPECT_EQ(classes.size(index) % 65536, 0u);
  EXPECT_EQ(classes.index_for(8192, 512), classes.index_for(8192));
}

TEST(SizeClasses, BadConfigThrowsAtSetup) {
  EXPECT_THROW(pool::SizeClasses(1000, 1), std::invalid_argument);
  EXPECT_THROW(pool::SizeClasses(std::size_t{64} << 20, 1), std::invalid_argument);
  EXPECT_THROW(pool::SizeClasses(1 << 20, 0), std::invalid_argument);
  EXPECT_THROW(pool::SizeClasses(1 << 20, 9), std::invalid_argument);
}

}  // namespace
