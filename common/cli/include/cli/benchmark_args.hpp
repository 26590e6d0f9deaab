#pragma once
#include <optional>
#include <string_view>

namespace cli {

enum class BenchmarkFront { kRun, kHelp };

// The front of a Google Benchmark binary's command line, as every other binary's: --version,
// --help (prints `usage`; the caller then lets benchmark::Initialize print its own flags), and an
// argument that is not a --benchmark_* flag refused with "<program>: unknown option ..." (exit 2),
// before the library sees it. Returns an exit code to return now, or what to do next.
std::optional<BenchmarkFront> benchmark_front(int argc, char** argv, std::string_view program,
                                              std::string_view usage, int& exit_code);

}  // namespace cli
