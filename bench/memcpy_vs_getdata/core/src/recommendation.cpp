#include "mvg/recommendation.hpp"

#include <optional>

namespace mvg {

std::vector<ModeRange> recommend(const Results& results) {
  std::vector<ModeRange> ranges;
  for (auto bs : kTable2BlockSizes) {
    std::optional<Mode> best;
    double best_us = 0;
    for (auto mode : kDeployableModes) {
      auto us = results.p50("randwrite", bs, mode);
      if (us && (!best || *us < best_us)) {
        best = mode;
        best_us = *us;
      }
    }
    if (!best) continue;
    if (!ranges.empty()) {
      auto previous = results.p50("randwrite", bs, ranges.back().mode);
      if (previous && *previous <= best_us * (1 + kTieTolerance)) best = ranges.back().mode;
    }
    if (!ranges.empty() && ranges.back().mode == *best) {
      ranges.back().to = bs;
    } else {
      ranges.push_back({bs, bs, *best});
    }
  }
  return ranges;
}

std::string format_recommendation(const std::vector<ModeRange>& ranges) {
  if (ranges.empty()) return "no recommendation: no deployable mode was measured";
  std::string line;
  for (const auto& r : ranges) {
    if (!line.empty()) line += "; ";
    line += format_block_size(r.from);
    // Appends only: GCC 12's -O2/-O3 flags `"-" + std::string` with a false -Wrestrict.
    if (r.to != r.from) {
      line += '-';
      line += format_block_size(r.to);
    }
    line += ": ";
    line += info(r.mode).label;
  }
  return line;
}

}  // namespace mvg
