#pragma once
// Which fio runs make up a bench, and in which order they run.

#include <cstdint>
#include <string>
#include <vector>

#include "mvg/mode.hpp"

namespace mvg {

// One configuration measured: a daemon mode under one fio workload.
struct Cell {
  std::string rw;  // fio's rw=: "write" or "randwrite"
  std::uint64_t block_size = 0;
  Mode mode = Mode::Copy;

  std::string key() const;  // e.g. "randwrite-64k-get_data"
  friend bool operator==(const Cell&, const Cell&) = default;
};

struct Run {
  Cell cell;
  unsigned rep = 0;  // 0-based repetition
};

inline constexpr std::uint64_t KiB = 1024;
// Table 2's rows, as the seed published them.
inline const std::vector<std::uint64_t> kTable2BlockSizes{4 * KiB,   64 * KiB,  128 * KiB,
                                                          256 * KiB, 512 * KiB, 1024 * KiB};
inline constexpr std::uint64_t kTable1BlockSize = 4 * KiB;
inline const std::vector<std::string> kTable1Workloads{"write", "randwrite"};

// Every distinct cell of both tables. Table 1's randwrite row shares its cells with Table 2's 4k
// row, so those are measured once.
std::vector<Cell> all_cells();

// The runs of a bench: repetition by repetition, and within one repetition each workload's modes
// back to back (interleaved) so that machine noise hits every column alike. The order of the modes
// rotates with the repetition so that no mode always runs first after a workload change.
std::vector<Run> interleaved_runs(const std::vector<Cell>& cells, unsigned reps);

std::string format_block_size(std::uint64_t bytes);  // 4096 -> "4k", 1 MiB -> "1m"

}  // namespace mvg
