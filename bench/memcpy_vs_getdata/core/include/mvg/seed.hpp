#pragma once
// The figures the NEED_GET_DATA proposal published (fio mean lat, usec, native machine, 2022),
// which the bench prints beside its own.

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace mvg::seed {

struct Table2Row {
  std::uint64_t block_size;
  double two_memcpy_us;  // w/o NEED_GET_DATA
  double get_data_us;    // w/ NEED_GET_DATA
};

inline constexpr std::array<Table2Row, 6> kTable2{{
    {4u << 10, 9.65, 10.06},
    {64u << 10, 15.19, 13.38},
    {128u << 10, 19.47, 17.77},
    {256u << 10, 32.63, 25.33},
    {512u << 10, 90.57, 46.08},
    {1u << 20, 177.06, 117.26},
}};

struct Table1Row {
  std::string_view rw;
  double baseline_us;  // old code
  double disabled_us;  // NEED_GET_DATA compiled in, not enabled
  double enabled_us;
};

inline constexpr std::array<Table1Row, 2> kTable1{{
    {"write", 28.74, 28.77, 57.20},
    {"randwrite", 27.81, 28.51, 54.81},
}};

std::optional<Table2Row> table2_row(std::uint64_t block_size);
std::optional<Table1Row> table1_row(std::string_view rw);

}  // namespace mvg::seed
