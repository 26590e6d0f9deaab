#pragma once
// The admin CLI's subcommands beyond features | list | del. Each takes the arguments after its
// name and returns the exit status (0 done, 1 runtime failure, 2 bad command line).
#include <span>
#include <string_view>

namespace ublk::cli {

int stats_command(std::span<const std::string_view> args);
int tune_command(std::span<const std::string_view> args);

}  // namespace ublk::cli
