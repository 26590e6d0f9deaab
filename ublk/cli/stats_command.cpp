// `ublk-pool stats -n N [--json | --prometheus] [--watch SECONDS [--count K]]`
#include <chrono>
#include <cstdio>
#include <ctime>
#include <optional>
#include <string>
#include <thread>

#include "admin_commands.hpp"
#include "report.hpp"
#include "stats_server.hpp"

namespace ublk::cli {

namespace {

constexpr const char* kStatsUsage =
    "usage: ublk-pool stats -n N [--json | --prometheus] [--watch SECONDS [--count K]]\n"
    "Device N's statistics, read from its daemon's socket (/run/ublk-pool/ublkbN.sock, or\n"
    "$UBLK_POOL_RUN_DIR/ublkbN.sock): as text, as JSON (the daemons' stats schema) or in Prometheus'\n"
    "text format. --watch prints the rates every SECONDS (K times, default until interrupted).\n"
    "  -n N              the device number (N of /dev/ublkbN)\n"
    "  --json            the stats as one JSON document (the daemons' stats schema)\n"
    "  --prometheus      the stats in Prometheus' text exposition format\n"
    "  --watch SECONDS   print IOPS and MB/s every SECONDS, as iostat does\n"
    "  --count K         with --watch: stop after K intervals\n"
    "  --help            this text\n";

enum class Format { kText, kJson, kPrometheus };

std::optional<unsigned> parse_unsigned(std::string_view text) {
  unsigned value = 0;
  if (text.empty()) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9' || value > 100'000'000) return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value;
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "ublk-pool: stats: %s (see --help)\n", message.c_str());
  return 2;
}

std::optional<RunSummary> read_summary(const std::string& path, std::string& error) {
  auto text = fetch_stats(path, error);
  if (!text) return std::nullopt;
  try {
    return summary_from_json(nlohmann::json::parse(*text));
  } catch (const std::exception& e) {
    error = path + ": " + e.what();
    return std::nullopt;
  }
}

// One iostat-like line: the rates between two snapshots of the same daemon.
std::string rate_line(const RunSummary& before, const RunSummary& now) {
  const double seconds = now.uptime_s - before.uptime_s;
  auto rate = [&](std::uint64_t a, std::uint64_t b) { return seconds > 0 ? static_cast<double>(b - a) / seconds : 0.0; };
  const IoStats& a = before.io;
  const IoStats& b = now.io;
  char clock[16];
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  std::strftime(clock, sizeof clock, "%H:%M:%S", &tm);
  char line[256];
  std::snprintf(line, sizeof line, "%-8s %-12s %10.1f %10.1f %9.2f %9.2f %8.1f %8.1f %12llu\n", clock,
                now.device.c_str(), rate(a.reads, b.reads), rate(a.writes, b.writes),
                rate(a.read_bytes, b.read_bytes) / 1e6, rate(a.write_bytes, b.write_bytes) / 1e6,
                rate(a.exhaustion_waits, b.exhaustion_waits), rate(a.errors, b.errors),
                static_cast<unsigned long long>(now.pool.bytes_in_use));
  return line;
}

}  // namespace

int stats_command(std::span<const std::string_view> args) {
  std::optional<unsigned> id;
  Format format = Format::kText;
  std::optional<unsigned> watch;
  std::optional<unsigned> count;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    auto value = [&]() -> std::optional<unsigned> {
      return i + 1 < args.size() ? parse_unsigned(args[++i]) : std::nullopt;
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kStatsUsage, stdout);
      return 0;
    }
    if (arg == "-n") {
      if (!(id = value())) return usage_error("-n wants a device number");
    } else if (arg == "--json") {
      format = Format::kJson;
    } else if (arg == "--prometheus") {
      format = Format::kPrometheus;
    } else if (arg == "--watch") {
      if (!(watch = value()) || *watch == 0) return usage_error("--watch wants a whole number of seconds >= 1");
    } else if (arg == "--count") {
      if (!(count = value()) || *count == 0) return usage_error("--count wants a number >= 1");
    } else {
      return usage_error("unknown option '" + std::string(arg) + "'");
    }
  }
  if (!id) return usage_error("which device? -n N");
  if (count && !watch) return usage_error("--count goes with --watch");
  if (watch && format != Format::kText) return usage_error("--watch prints rates as text only");
  const std::string path = stats_socket_path(stats_dir(), *id);
  std::string error;
  auto first = read_summary(path, error);
  if (!first) {
    std::fprintf(stderr, "ublk-pool: stats: %s\n", error.c_str());
    return 1;
  }
  if (!watch) {
    switch (format) {
      case Format::kText: std::fputs(report_text(*first).c_str(), stdout); break;
      case Format::kJson: std::fputs(report_json(*first).c_str(), stdout); break;
      case Format::kPrometheus: std::fputs(report_prometheus(*first).c_str(), stdout); break;
    }
    return 0;
  }
  std::printf("%-8s %-12s %10s %10s %9s %9s %8s %8s %12s\n", "time", "device", "r/s", "w/s", "rMB/s", "wMB/s",
              "waits/s", "errors/s", "pool_bytes");
  std::fflush(stdout);
  RunSummary before = *first;
  for (unsigned n = 0; !count || n < *count; ++n) {
    std::this_thread::sleep_for(std::chrono::seconds(*watch));
    auto now = read_summary(path, error);
    if (!now) {
      std::fprintf(stderr, "ublk-pool: stats: %s\n", error.c_str());
      return 1;
    }
    std::fputs(rate_line(before, *now).c_str(), stdout);
    std::fflush(stdout);
    before = *now;
  }
  return 0;
}

}  // namespace ublk::cli
