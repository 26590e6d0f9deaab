#pragma once
// The daemon configurations the bench compares, and what each one costs in copies.

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mvg {

enum class Mode { AppCopy, GetData, UserCopy, Copy, CopyNoData };

struct ModeInfo {
  Mode mode;
  std::string_view key;    // stable identifier in CSV/JSON and file names
  std::string_view label;  // the daemon flags, as a reader would type them
  std::string_view copies; // what the WRITE data costs, briefly (the plot's legend)
  std::vector<std::string> daemon_args;
};

const ModeInfo& info(Mode mode);
std::optional<Mode> mode_from_key(std::string_view key);

// Table 2's columns, in the seed's order: the 2-memcpy baseline first, then the 1-memcpy modes.
inline constexpr std::array<Mode, 4> kTable2Modes{Mode::AppCopy, Mode::GetData, Mode::UserCopy,
                                                  Mode::Copy};
// Table 1's columns: the seed's baseline, "disabled" and "enabled", then user_copy.
inline constexpr std::array<Mode, 4> kTable1Modes{Mode::CopyNoData, Mode::Copy, Mode::GetData,
                                                  Mode::UserCopy};
// Modes that hand the application the WRITE data in a buffer it may keep: the recommendation
// chooses among these. Plain `copy` is the floor for a target that never keeps the data.
inline constexpr std::array<Mode, 3> kDeployableModes{Mode::AppCopy, Mode::GetData,
                                                      Mode::UserCopy};

}  // namespace mvg
