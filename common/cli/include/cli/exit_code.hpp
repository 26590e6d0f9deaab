#pragma once

namespace cli {

// Every binary's exit codes (docs/cli.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;  // the command line was fine; the run failed
inline constexpr int kExitUsage = 2;    // the command line was wrong; nothing was done

}  // namespace cli
