#include "mvg/mode.hpp"

#include <algorithm>

namespace mvg {
namespace {

const std::array<ModeInfo, kAllModes.size()>& all_modes() {
  static const std::array<ModeInfo, kAllModes.size()> modes{{
      {Mode::AppCopy, "copy_app_copy", "copy --app-copy", "2 memcpy",
       {"--mode", "copy", "--app-copy"}},
      {Mode::GetData, "get_data", "get_data", "1 memcpy + 1 round trip",
       {"--mode", "get_data"}},
      {Mode::UserCopy, "user_copy", "user_copy", "1 memcpy by pread",
       {"--mode", "user_copy"}},
      {Mode::Copy, "copy", "copy", "1 memcpy, data unused", {"--mode", "copy"}},
      {Mode::CopyNoData, "copy_no_data", "copy --no-data", "frontend overhead only",
       {"--mode", "copy", "--no-data"}},
      // copy as the base: get_data would still ask NEED_GET_DATA for a WRITE in shared memory.
      {Mode::ShmemZc, "shmem_zc", "shmem_zc", "0 memcpy: fio's pages in place",
       {"--mode", "copy"}, /*shared_memory=*/true},
  }};
  return modes;
}

}  // namespace

const ModeInfo& info(Mode mode) {
  const auto& modes = all_modes();
  return *std::find_if(modes.begin(), modes.end(),
                       [mode](const ModeInfo& m) { return m.mode == mode; });
}

std::optional<Mode> mode_from_key(std::string_view key) {
  for (const auto& m : all_modes()) {
    if (m.key == key) return m.mode;
  }
  return std::nullopt;
}

}  // namespace mvg
