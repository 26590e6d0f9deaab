#pragma once
// Which mode to deploy, per block-size range, from Table 2's measurements.

#include <cstdint>
#include <string>
#include <vector>

#include "mvg/mode.hpp"
#include "mvg/results.hpp"

namespace mvg {

struct ModeRange {
  std::uint64_t from = 0;  // block sizes, inclusive
  std::uint64_t to = 0;
  Mode mode = Mode::GetData;
  friend bool operator==(const ModeRange&, const ModeRange&) = default;
};

// A mode within this fraction of the fastest counts as tied with it: closer than that is noise.
inline constexpr double kTieTolerance = 0.03;

// For each of Table 2's block sizes, the deployable mode (one that leaves the data in a buffer the
// application may keep) with the lowest median latency; neighbouring sizes with the same winner
// merge into one range. Where the previous range's mode ties with the fastest, the range goes on,
// so that noise does not split it. Block sizes where no deployable mode was measured are left out.
std::vector<ModeRange> recommend(const Results& results);

// One line, e.g. "4k-64k: copy --app-copy; 128k-1m: get_data".
std::string format_recommendation(const std::vector<ModeRange>& ranges);

}  // namespace mvg
