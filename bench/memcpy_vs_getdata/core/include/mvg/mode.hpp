#pragma once
// The daemon configurations the bench compares, and what each one costs in copies.

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mvg {

enum class Mode { AppCopy, GetData, UserCopy, Copy, CopyNoData, ShmemZc };

struct ModeInfo {
  Mode mode;
  std::string_view key;    // stable identifier in CSV/JSON and file names
  std::string_view label;  // the daemon flags, as a reader would type them
  std::string_view copies; // what the WRITE data costs, briefly (the plot's legend)
  std::vector<std::string> daemon_args;
  // The daemon gets `--shmem-file F` and fio `--mem=mmaphuge:F` on one hugetlbfs file F, so that
  // the kernel serves fio's IO in place (UBLK_F_SHMEM_ZC, Linux 7.1+).
  bool shared_memory = false;
};

const ModeInfo& info(Mode mode);
std::optional<Mode> mode_from_key(std::string_view key);

// Table 2's columns, in the seed's order: the 2-memcpy baseline first, then the 1-memcpy modes.
// shmem_zc last: no copy at all, for an application whose buffers the daemon registered.
inline constexpr std::array<Mode, 5> kTable2Modes{Mode::AppCopy, Mode::GetData, Mode::UserCopy,
                                                  Mode::Copy, Mode::ShmemZc};
// Table 1's columns: the seed's baseline, "disabled" and "enabled", then user_copy.
inline constexpr std::array<Mode, 5> kTable1Modes{Mode::CopyNoData, Mode::Copy, Mode::GetData,
                                                  Mode::UserCopy, Mode::ShmemZc};
// Modes that hand the application the WRITE data in a buffer it may keep, or (shmem_zc) read in
// place from the client's pages and copy only what it keeps: the recommendation chooses among
// these. Plain `copy` is the floor for a target that never keeps the data.
inline constexpr std::array<Mode, 4> kDeployableModes{Mode::AppCopy, Mode::GetData,
                                                      Mode::UserCopy, Mode::ShmemZc};
// Every mode, in the order the copies line lists them.
inline constexpr std::array<Mode, 6> kAllModes{Mode::AppCopy, Mode::GetData, Mode::UserCopy,
                                               Mode::Copy,    Mode::CopyNoData, Mode::ShmemZc};

}  // namespace mvg
