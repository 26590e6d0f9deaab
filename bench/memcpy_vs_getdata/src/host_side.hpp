#pragma once
// The side the user runs: checks what the bench needs, runs the inner side natively or in the qemu
// VM, runs the native cost model, then reads the raw results and prints and writes the report.

#include <string>

#include "options.hpp"

namespace mvg {

// Returns the process exit code.
int run_host(Options options);

}  // namespace mvg
