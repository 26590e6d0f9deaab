#pragma once
// The measured cells of a bench, each summarised over its repetitions.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mvg/fio_result.hpp"
#include "mvg/plan.hpp"

namespace mvg {

// A cell's error when the bench left it out (--only, --mode): a gap, not something to explain.
inline constexpr std::string_view kNotRun = "not run";

struct CellSummary {
  Cell cell;
  std::vector<FioResult> reps;
  std::string error;  // why the cell has no figures (e.g. the kernel lacks the mode)
  // Medians over the repetitions of fio's per-run figures.
  double p50_us = 0;
  double p99_us = 0;
  double mean_us = 0;
  double iops = 0;
  // The daemon's own count (median over the repetitions that have it).
  std::optional<double> copies_per_write_byte;

  bool measured() const { return !reps.empty(); }
};

// Takes the medians over the repetitions; a cell without repetitions keeps only its error.
CellSummary summarize(const Cell& cell, std::vector<FioResult> reps, std::string error = {},
                      const std::vector<double>& copies_per_write_byte = {});

class Results {
 public:
  void add(CellSummary summary) { cells_.push_back(std::move(summary)); }
  const std::vector<CellSummary>& cells() const { return cells_; }
  // The measured summary of a cell, or nullptr when it is absent or failed.
  const CellSummary* find(const Cell& cell) const;
  std::optional<double> p50(const std::string& rw, std::uint64_t bs, Mode mode) const;

 private:
  std::vector<CellSummary> cells_;
};

}  // namespace mvg
