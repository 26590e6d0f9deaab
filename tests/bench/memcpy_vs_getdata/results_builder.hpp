#pragma once
// Builds Results for tests: cells with the figures fio would have reported.

#include <string>
#include <vector>

#include "mvg/results.hpp"

namespace mvg::testing {

inline FioResult run_with(double p50, double p99, double mean = 0) {
  FioResult r;
  r.total_ios = 100;
  r.p50_us = p50;
  r.p99_us = p99;
  r.mean_us = mean > 0 ? mean : p50;
  r.iops = 1e6 / r.mean_us;
  return r;
}

// One repetition per cell.
inline void add(Results& results, const std::string& rw, std::uint64_t bs, Mode mode, double p50,
                double p99 = 0) {
  results.add(summarize({rw, bs, mode}, {run_with(p50, p99 > 0 ? p99 : 2 * p50)}));
}

// Table 2 filled with the given p50s per mode at every block size, scaled by the block size in KiB.
inline Results table2_scaled(double app_copy, double get_data, double user_copy, double copy) {
  Results results;
  for (auto bs : kTable2BlockSizes) {
    double k = static_cast<double>(bs / KiB);
    add(results, "randwrite", bs, Mode::AppCopy, app_copy * k);
    add(results, "randwrite", bs, Mode::GetData, get_data * k);
    add(results, "randwrite", bs, Mode::UserCopy, user_copy * k);
    add(results, "randwrite", bs, Mode::Copy, copy * k);
  }
  return results;
}

}  // namespace mvg::testing
