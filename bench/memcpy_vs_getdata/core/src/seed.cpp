#include "mvg/seed.hpp"

namespace mvg::seed {

std::optional<Table2Row> table2_row(std::uint64_t block_size) {
  for (const auto& row : kTable2) {
    if (row.block_size == block_size) return row;
  }
  return std::nullopt;
}

std::optional<Table1Row> table1_row(std::string_view rw) {
  for (const auto& row : kTable1) {
    if (row.rw == rw) return row;
  }
  return std::nullopt;
}

}  // namespace mvg::seed
