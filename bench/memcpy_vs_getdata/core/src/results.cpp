#include "mvg/results.hpp"

#include <algorithm>

#include "mvg/stats.hpp"

namespace mvg {
namespace {

template <class Field>
double median_of(const std::vector<FioResult>& reps, Field field) {
  std::vector<double> values;
  values.reserve(reps.size());
  for (const auto& r : reps) values.push_back(r.*field);
  return median(values);
}

}  // namespace

CellSummary summarize(const Cell& cell, std::vector<FioResult> reps, std::string error,
                      const std::vector<double>& copies_per_write_byte) {
  CellSummary s;
  s.cell = cell;
  s.reps = std::move(reps);
  s.error = std::move(error);
  if (s.reps.empty()) return s;
  if (!copies_per_write_byte.empty()) s.copies_per_write_byte = median(copies_per_write_byte);
  s.p50_us = median_of(s.reps, &FioResult::p50_us);
  s.p99_us = median_of(s.reps, &FioResult::p99_us);
  s.mean_us = median_of(s.reps, &FioResult::mean_us);
  s.iops = median_of(s.reps, &FioResult::iops);
  return s;
}

const CellSummary* Results::find(const Cell& cell) const {
  auto it = std::find_if(cells_.begin(), cells_.end(),
                         [&](const CellSummary& s) { return s.cell == cell; });
  return it != cells_.end() && it->measured() ? &*it : nullptr;
}

std::optional<double> Results::p50(const std::string& rw, std::uint64_t bs, Mode mode) const {
  const auto* s = find({rw, bs, mode});
  return s ? std::optional<double>(s->p50_us) : std::nullopt;
}

}  // namespace mvg
