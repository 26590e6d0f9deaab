#pragma once
#include "options.hpp"

namespace ublk::cli {

// main() of ublk-pool-null and ublk-pool-mem. Exit codes: 0 clean run, 1 runtime failure
// (no ublk kernel, the kernel refused), 2 bad command line.
int run_daemon(int argc, char** argv, DaemonKind kind);

}  // namespace ublk::cli
