// `ublk-pool tune -n N | --from FILE [--bench-results DIR]`
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "admin_commands.hpp"
#include "advice.hpp"
#include "stats_server.hpp"

namespace ublk::cli {

namespace {

constexpr const char* kTuneUsage =
    "usage: ublk-pool tune -n N | --from FILE [--bench-results DIR]\n"
    "Advice from what device N's daemon counted (or a saved --json report): buffer mode, pool size\n"
    "classes, pool limit, depth and queues, each with its reason, and the command line to restart\n"
    "with. The mode comes from memcpy_vs_getdata's results in DIR (default: the build's\n"
    "bench-results/memcpy_vs_getdata): results.json, else cost_model.json. See docs/tuning.md.\n"
    "  -n N                  the device number (N of /dev/ublkbN): ask its daemon\n"
    "  --from FILE           a saved --json report instead of a live daemon\n"
    "  --bench-results DIR   where memcpy_vs_getdata's results are\n"
    "  --help                this text\n";

int usage_error(const std::string& message) {
  std::fprintf(stderr, "ublk-pool: tune: %s (see --help)\n", message.c_str());
  return 2;
}

// memcpy_vs_getdata's default --out: <build>/bench-results/memcpy_vs_getdata, beside bin/.
std::filesystem::path default_bench_results() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  return exe.parent_path().parent_path() / "bench-results" / "memcpy_vs_getdata";
}

std::string program_of(const RunSummary& s) { return "ublk-pool-" + s.target; }

}  // namespace

int tune_command(std::span<const std::string_view> args) {
  std::optional<unsigned> id;
  std::string from;
  std::filesystem::path results = default_bench_results();
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kTuneUsage, stdout);
      return 0;
    }
    if (i + 1 >= args.size()) return usage_error("unknown option or missing value '" + std::string(arg) + "'");
    const std::string value(args[++i]);
    if (arg == "-n") {
      try {
        std::size_t used = 0;
        id = static_cast<unsigned>(std::stoul(value, &used));
        if (used != value.size()) throw std::invalid_argument(value);
      } catch (const std::exception&) {
        return usage_error("-n wants a device number");
      }
    } else if (arg == "--from") {
      from = value;
    } else if (arg == "--bench-results") {
      results = value;
    } else {
      return usage_error("unknown option '" + std::string(arg) + "'");
    }
  }
  if (id.has_value() == !from.empty()) return usage_error("give one of -n N (a running daemon) or --from FILE");
  std::string text;
  std::string source;
  if (id) {
    source = stats_socket_path(stats_dir(), *id);
    std::string error;
    auto fetched = fetch_stats(source, error);
    if (!fetched) {
      std::fprintf(stderr, "ublk-pool: tune: %s\n", error.c_str());
      return 1;
    }
    text = std::move(*fetched);
  } else {
    source = from;
    std::ifstream in(from);
    if (!in) {
      std::fprintf(stderr, "ublk-pool: tune: cannot read %s\n", from.c_str());
      return 1;
    }
    std::ostringstream all;
    all << in.rdbuf();
    text = all.str();
  }
  RunSummary stats;
  try {
    stats = summary_from_json(nlohmann::json::parse(text));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ublk-pool: tune: %s: %s\n", source.c_str(), e.what());
    return 1;
  }
  const auto evidence = load_mode_evidence(results);
  const Advice advice = advise(stats, evidence);
  std::printf("%s: %s, mode %s, %u queue(s) x depth %u, pool steps %u, limit %llu; %.0f s of IO seen\n",
              stats.device.c_str(), stats.target.c_str(), std::string(to_string(stats.mode)).c_str(),
              stats.shape.queues, stats.shape.depth, stats.shape.pool_steps,
              static_cast<unsigned long long>(stats.shape.pool_limit), stats.uptime_s);
  std::fputs(format_advice(advice, stats, program_of(stats)).c_str(), stdout);
  return 0;
}

}  // namespace ublk::cli
