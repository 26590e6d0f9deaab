#pragma once
// The native cost model: a memcpy of the block against one extra io_uring round trip.
//
// get_data saves the application's memcpy of the block (the "2 memcpy" baseline copies it once
// more out of the tag's buffer) and pays one more round trip to the kernel (UBLK_IO_NEED_GET_DATA).
// So it wins from the block size where memcpy(bs) exceeds that round trip. The io_uring NOP round
// trip is the floor of a ublk round trip, so the predicted crossover is a lower bound.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mvg {

struct MemcpyPoint {
  std::uint64_t block_size = 0;
  double us = 0;
};

struct CostModel {
  std::vector<MemcpyPoint> memcpy;  // ascending block sizes
  double round_trip_us = 0;
};

struct CostModelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Reads cost_model's Google Benchmark JSON (--benchmark_format=json): the CPU time of the
// "memcpy/<bytes>" cases and of "io_uring_nop_round_trip". Throws CostModelError when either is
// missing.
CostModel parse_cost_model_json(std::string_view text);

struct Crossover {
  enum class Where { BelowSmallest, Between, AboveLargest } where = Where::Between;
  double block_size = 0;  // interpolated linearly between the two measured sizes around it
};

Crossover predict_crossover(const CostModel& model);

// E.g. "get_data beats 2-memcpy from ~5.1 KiB (memcpy(bs) > one io_uring round trip of 0.31 us)".
std::string describe(const Crossover& crossover, const CostModel& model);

}  // namespace mvg
