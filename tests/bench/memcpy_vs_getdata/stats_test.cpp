#include "mvg/stats.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

namespace mvg {
namespace {

TEST(Median, IsTheMiddleOfAnOddCountWhateverTheOrder) {
  std::vector<double> v{9.0, 1.0, 5.0};
  EXPECT_DOUBLE_EQ(median(v), 5.0);
}

TEST(Median, AveragesTheTwoMiddleValuesOfAnEvenCount) {
  std::vector<double> v{4.0, 100.0, 1.0, 2.0};
  EXPECT_DOUBLE_EQ(median(v), 3.0);
}

TEST(Median, OfOneValueIsThatValue) {
  std::vector<double> v{7.5};
  EXPECT_DOUBLE_EQ(median(v), 7.5);
}

TEST(Median, IgnoresASingleOutlier) {
  std::vector<double> v{10.0, 11.0, 1e6};
  EXPECT_DOUBLE_EQ(median(v), 11.0);
}

TEST(Median, RefusesNoValues) {
  EXPECT_THROW(median(std::vector<double>{}), std::invalid_argument);
}

}  // namespace
}  // namespace mvg
