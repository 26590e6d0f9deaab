#include "cli/benchmark_args.hpp"

#include <cstdio>
#include <string>

#include "cli/exit_code.hpp"
#include "cli/program.hpp"

namespace cli {

std::optional<BenchmarkFront> benchmark_front(int argc, char** argv, std::string_view program,
                                              std::string_view usage, int& exit_code) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fwrite(usage.data(), 1, usage.size(), stdout);
      std::fflush(stdout);
      return BenchmarkFront::kHelp;
    }
    if (arg == "--version") {
      std::printf("%s\n", version_line(program).c_str());
      exit_code = kExitOk;
      return std::nullopt;
    }
  }
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (!arg.starts_with("--benchmark_") && !arg.starts_with("--v=")) {
      exit_code = fail(program, "unknown option '" + std::string(arg) + "' (see --help)", kExitUsage);
      return std::nullopt;
    }
  }
  return BenchmarkFront::kRun;
}

}  // namespace cli
