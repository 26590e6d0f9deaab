#pragma once
// `ublk-pool tune`: settings derived from what a daemon counted (its stats JSON), each with the
// figures that led to it. Pure: no device, no file but the bench results it is handed.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "mvg/cost_model.hpp"
#include "mvg/recommendation.hpp"
#include "report.hpp"

namespace ublk::cli {

// What memcpy_vs_getdata measured on this machine: the best mode per block-size range (from a
// bench run through ublk) or, lacking one, the cost model's crossover (get_data beats copying from
// that block size).
struct ModeEvidence {
  std::string source;  // the file it came from
  std::vector<mvg::ModeRange> ranges;
  std::optional<double> crossover_bytes;
};

// Reads DIR/results.json (its recommendation ranges, else its cost model), else DIR/cost_model.json.
// nullopt when neither holds a usable figure.
std::optional<ModeEvidence> load_mode_evidence(const std::filesystem::path& dir);

// The pool's waste for one `steps` setting over the request-size histogram.
struct StepsWaste {
  unsigned steps = 1;
  std::uint64_t allocated = 0;  // bytes of the buffers the requests would have taken
  std::uint64_t waste = 0;      // allocated minus the bytes requested
  bool exact = false;           // false: estimated (see waste_by_steps)
};

// Buffers come from size classes (pool::SizeClasses); the histogram has power-of-two buckets.
// For steps 1 every request in a bucket takes the bucket's top size (4 KiB at least), so its
// waste is exact. For other steps where the requests lie within a bucket matters and the
// histogram cannot say: unless every request sits at its bucket's top (the bytes requested say
// so, and then the waste is exact again), it is estimated by spreading each bucket's requests
// evenly over its sector sizes, scaled to the exact steps-1 waste.
std::vector<StepsWaste> waste_by_steps(const IoStats& io, std::uint32_t max_io);

struct AdviceLine {
  std::string setting;  // "mode", "pool-steps", "pool-limit", "depth", "queues"
  std::string value;    // what to set ("" when nothing to change)
  std::string reason;
};

struct Advice {
  std::vector<AdviceLine> lines;
  std::vector<std::string> restart_flags;  // e.g. {"--mode", "get_data", "--pool-steps", "1"}
  bool shape_changes = false;              // --depth/--queues/--max-io: a new device, not --recover
};

Advice advise(const RunSummary& stats, const std::optional<ModeEvidence>& evidence);
std::string format_advice(const Advice& advice, const RunSummary& stats, const std::string& program);

}  // namespace ublk::cli
