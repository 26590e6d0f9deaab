#include "ublk/held_extents.hpp"

#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <vector>

namespace ublk {
namespace {

std::vector<std::byte> filled(std::size_t n, unsigned char value) { return std::vector<std::byte>(n, std::byte{value}); }

std::vector<std::byte> read(const HeldExtents<std::shared_ptr<int>>& held, std::uint64_t offset, std::size_t n) {
  std::vector<std::byte> out(n, std::byte{0});
  held.overlay(offset, out);
  return out;
}

TEST(HeldExtents, APunchInsideARunKeepsBothOuterPartsSharingTheBuffer) {
  HeldExtents<std::shared_ptr<int>> held;
  const auto data = filled(16, 7);
  auto ref = std::make_shared<int>(0);
  held.put(0, 16, data.data(), ref);
  held.punch(4, 8);
  ASSERT_EQ(held.extents().size(), 2u);
  EXPECT_EQ(held.extents().at(0).length, 4u);
  EXPECT_EQ(held.extents().at(12).length, 4u);
  EXPECT_EQ(held.extents().at(12).data, data.data() + 12);
  EXPECT_EQ(ref.use_count(), 3);  // ours and the two parts
  const auto out = read(held, 0, 16);
  EXPECT_EQ(out[3], std::byte{7});
  EXPECT_EQ(out[4], std::byte{0});
  EXPECT_EQ(out[11], std::byte{0});
  EXPECT_EQ(out[12], std::byte{7});
}

TEST(HeldExtents, APutOverSeveralRunsReplacesTheirOverlapAndDropsWhatItCovers) {
  HeldExtents<std::shared_ptr<int>> held;
  const auto a = filled(8, 1), b = filled(8, 2), c = filled(12, 3);
  auto covered = std::make_shared<int>(0);
  held.put(0, 8, a.data(), std::make_shared<int>(0));
  held.put(8, 8, b.data(), covered);
  held.put(4, 12, c.data(), std::make_shared<int>(0));
  EXPECT_EQ(covered.use_count(), 1);  // run b lay wholly inside: its buffer went
  const auto out = read(held, 0, 16);
  EXPECT_EQ(out[3], std::byte{1});
  for (std::size_t i = 4; i < 16; ++i) EXPECT_EQ(out[i], std::byte{3}) << i;
}

TEST(HeldExtents, OverlayCopiesOnlyWhatIsHeldInTheWindow) {
  HeldExtents<std::shared_ptr<int>> held;
  const auto a = filled(4, 9);
  held.put(10, 4, a.data(), std::make_shared<int>(0));
  std::array<std::byte, 8> out{};
  out.fill(std::byte{5});
  held.overlay(8, out);  // window [8, 16): held bytes at 10..13
  EXPECT_EQ(out[1], std::byte{5});
  EXPECT_EQ(out[2], std::byte{9});
  EXPECT_EQ(out[5], std::byte{9});
  EXPECT_EQ(out[6], std::byte{5});
}

// A reference that must be shared explicitly, as an application's message buffer refs are.
struct Counted {
  std::shared_ptr<int> count;
  Counted share() const {
    ++*count;
    return Counted{count};
  }
};

TEST(HeldExtents, ACutRunSharesItsRefThroughShare) {
  HeldExtents<Counted> held;
  const auto data = filled(16, 1);
  Counted ref{std::make_shared<int>(0)};
  held.put(0, 16, data.data(), ref);
  held.punch(4, 4);
  EXPECT_EQ(*ref.count, 2);  // one share() per part kept
}

}  // namespace
}  // namespace ublk
