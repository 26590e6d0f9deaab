#pragma once
// The side of the bench that runs next to the ublk devices (in the VM, or natively): for each run,
// ublk-pool-null up, fio on its device, the daemon down and its device gone. It leaves fio's raw
// JSON under OUT/raw/ and a manifest, OUT/inner.json, for the host side to read.

#include <string>
#include <vector>

#include "mvg/plan.hpp"

namespace mvg {

struct InnerConfig {
  std::string out_dir;
  unsigned reps = 3;
  double runtime_s = 2;
  double ramp_s = 0.5;
  std::string max_io;
  double start_timeout_s = 60;
  std::string daemon;
  std::string fio_file;  // dry run
  std::string only;      // a filter on the cell keys
  std::string modes;     // comma-separated mode keys; empty: every mode
};

inline constexpr const char* kManifestName = "inner.json";

// The cells a bench measures: all of them, or those whose key contains `only` and whose mode is
// one of `modes` (comma-separated keys; empty: any).
std::vector<Cell> selected_cells(const std::string& only, const std::string& modes);

// Returns the process exit code: 0 when every run measured, 1 on a fatal error (a device or daemon
// that would not go away), 3 when some cells failed, 128+sig when a stop was asked.
int run_inner(const InnerConfig& config);

}  // namespace mvg
