#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "pool/stats.hpp"
#include "ublk/mode.hpp"
#include "ublk/stats.hpp"

namespace ublk::cli {

// The one stats schema of the daemons: the --json report at exit and the live JSON of the stats
// socket (docs/ublk.md, "Statistics"). Bump the version when a key changes meaning or goes away;
// adding a key keeps it.
inline constexpr const char* kStatsSchema = "ublk-pool-stats";
inline constexpr int kStatsSchemaVersion = 1;

enum class SummaryState : std::uint8_t { kLive, kFinal };

struct DeviceShape {
  int id = -1;
  unsigned queues = 0;
  unsigned depth = 0;
  std::uint32_t max_io_bytes = 0;
  std::uint64_t size_bytes = 0;
  std::uint32_t logical_block = 0;
  unsigned pool_steps = 1;  // the pool's size classes per doubling
  std::uint64_t pool_limit = 0;
};

// The provider's figures the report carries.
struct PoolFigures {
  std::uint64_t hits = 0, misses = 0;  // over the size classes
  std::uint64_t bytes_in_use = 0;
  // Sums over the size classes of their peaks (most buffers out at once; times the buffer size):
  // upper bounds of what was out at once, as the classes need not peak together.
  std::uint64_t buffers_peak = 0;
  std::uint64_t bytes_peak = 0;
  std::uint64_t bytes_limit = 0;  // 0: none
};
PoolFigures pool_figures(const std::optional<pool::ProviderStats>& stats) noexcept;

struct RunSummary {
  SummaryState state = SummaryState::kFinal;
  std::string device;        // /dev/ublkbN
  std::string target;        // null | mem
  Mode mode = Mode::kAuto;
  std::string provider;
  bool app_copy = false;
  bool no_data = false;
  DeviceShape shape;
  std::uint64_t kernel_features = 0;  // GET_FEATURES: what the kernel could do
  std::uint64_t granted_flags = 0;    // what the device got at ADD_DEV
  double uptime_s = 0;                // since the device went live
  IoStats io;                         // all queues
  std::vector<IoStats> queues;        // per queue
  PoolFigures pool;
  std::vector<std::pair<std::string, std::uint64_t>> target_counters;  // the target's own (loop: fdatasyncs)
};

// Bytes the kernel copied per byte read or written (0 when nothing was).
double kernel_copies_per_byte(const IoStats& io) noexcept;


std::string report_text(const RunSummary& summary);
nlohmann::json report_json_value(const RunSummary& summary);
std::string report_json(const RunSummary& summary);  // one line
// Reads what report_json wrote. Throws std::invalid_argument naming the key for another schema,
// a newer version or a missing or mistyped key.
RunSummary summary_from_json(const nlohmann::json& doc);
// Prometheus text exposition format 0.0.4: ublkpool_* metrics labelled device="/dev/ublkbN".
std::string report_prometheus(const RunSummary& summary);

}  // namespace ublk::cli
