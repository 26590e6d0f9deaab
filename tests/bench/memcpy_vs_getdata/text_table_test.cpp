#include "mvg/text_table.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace mvg {
namespace {

TEST(TextTable, PadsEveryColumnToItsWidestCell) {
  TextTable t({"bs", "get_data"});
  t.add_row({"4k", "10.06"});
  t.add_row({"1m", "117.3 / 2200.5"});
  EXPECT_EQ(t.render(),
            "| bs  | get_data       |\n"
            "| --- | -------------- |\n"
            "| 4k  | 10.06          |\n"
            "| 1m  | 117.3 / 2200.5 |\n");
}

TEST(TextTable, RefusesARowOfTheWrongWidth) {
  TextTable t({"a", "b"});
  EXPECT_THROW(t.add_row({"1"}), std::invalid_argument);
  EXPECT_THROW(t.add_row({"1", "2", "3"}), std::invalid_argument);
}

TEST(FormatUs, KeepsThreeOrFourSignificantDigits) {
  EXPECT_EQ(format_us(9.654), "9.65");
  EXPECT_EQ(format_us(177.06), "177.1");
  EXPECT_EQ(format_us(12345.6), "12346");
  EXPECT_EQ(format_us(std::nullopt), "n/a");
}

TEST(FormatRatio, HasTwoDecimals) {
  EXPECT_EQ(format_ratio(90.57 / 46.08), "1.97");
  EXPECT_EQ(format_ratio(std::nullopt), "n/a");
}

}  // namespace
}  // namespace mvg
