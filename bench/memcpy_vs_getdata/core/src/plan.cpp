#include "mvg/plan.hpp"

#include <algorithm>
#include <map>
#include <utility>

namespace mvg {

std::string format_block_size(std::uint64_t bytes) {
  if (bytes >= 1024 * KiB && bytes % (1024 * KiB) == 0) return std::to_string(bytes / (1024 * KiB)) + "m";
  if (bytes >= KiB && bytes % KiB == 0) return std::to_string(bytes / KiB) + "k";
  return std::to_string(bytes);
}

std::string Cell::key() const {
  return rw + "-" + format_block_size(block_size) + "-" + std::string(info(mode).key);
}

std::vector<Cell> all_cells() {
  std::vector<Cell> cells;
  auto add = [&cells](const Cell& c) {
    if (std::find(cells.begin(), cells.end(), c) == cells.end()) cells.push_back(c);
  };
  for (auto bs : kTable2BlockSizes) {
    for (auto mode : kTable2Modes) add({"randwrite", bs, mode});
  }
  for (const auto& rw : kTable1Workloads) {
    for (auto mode : kTable1Modes) add({rw, kTable1BlockSize, mode});
  }
  return cells;
}

std::vector<Run> interleaved_runs(const std::vector<Cell>& cells, unsigned reps) {
  // Group the cells by workload, keeping the order in which workloads first appear.
  std::vector<std::vector<Cell>> groups;
  std::map<std::pair<std::string, std::uint64_t>, std::size_t> group_of;
  for (const auto& c : cells) {
    auto [it, inserted] = group_of.try_emplace({c.rw, c.block_size}, groups.size());
    if (inserted) groups.emplace_back();
    groups[it->second].push_back(c);
  }
  std::vector<Run> runs;
  for (unsigned rep = 0; rep < reps; ++rep) {
    for (const auto& group : groups) {
      for (std::size_t i = 0; i < group.size(); ++i) {
        runs.push_back({group[(i + rep) % group.size()], rep});
      }
    }
  }
  return runs;
}

}  // namespace mvg
