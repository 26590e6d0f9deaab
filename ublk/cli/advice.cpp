#include "advice.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "pool/size_classes.hpp"
#include "ublk/control.hpp"
#include "ublk/features.hpp"

namespace ublk::cli {

namespace {

bool has_feature(const Features& kernel, std::string_view name) {
  const auto bit = feature_bit(name);
  return bit && kernel.has(std::uint64_t{1} << *bit);
}

constexpr std::uint64_t kMiB = std::uint64_t{1} << 20;
constexpr std::uint64_t kSector = 512;
constexpr unsigned kMaxSteps = 8;
// A steps setting must save this share of the allocated bytes to be worth more size classes.
constexpr double kWorthwhileSaving = 0.05;
// The pool limit's headroom over the peak.
constexpr double kLimitHeadroom = 1.25;

std::string bytes_text(std::uint64_t bytes) {
  if (bytes && bytes % (std::uint64_t{1} << 30) == 0) return std::to_string(bytes >> 30) + "G";
  if (bytes && bytes % kMiB == 0) return std::to_string(bytes >> 20) + "M";
  if (bytes && bytes % 1024 == 0) return std::to_string(bytes >> 10) + "K";
  return std::to_string(bytes);
}

// For reading, not for flags: "424 KiB", "1.3 GiB".
std::string human(std::uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  unsigned unit = 0;
  while (value >= 1024 && unit + 1 < std::size(units)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, value < 10 && unit ? "%.1f %s" : "%.0f %s", value, units[unit]);
  return text;
}

std::string percent(std::uint64_t part, std::uint64_t whole) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f%%", whole ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0);
  return text;
}

std::uint64_t round_up(std::uint64_t value, std::uint64_t unit) { return (value + unit - 1) / unit * unit; }

std::optional<std::uint64_t> parse_block_size(const std::string& text) {
  if (text.empty()) return std::nullopt;
  std::uint64_t shift = 0;
  std::string digits = text;
  switch (digits.back()) {
    case 'k': shift = 10; break;
    case 'm': shift = 20; break;
    default: break;
  }
  if (shift) digits.pop_back();
  try {
    std::size_t used = 0;
    const unsigned long long n = std::stoull(digits, &used);
    if (used != digits.size()) return std::nullopt;
    return static_cast<std::uint64_t>(n) << shift;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<std::string> read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Mode to_device_mode(mvg::Mode mode) {
  switch (mode) {
    case mvg::Mode::GetData: return Mode::kGetData;
    case mvg::Mode::UserCopy: return Mode::kUserCopy;
    case mvg::Mode::AppCopy:
    case mvg::Mode::Copy:
    case mvg::Mode::CopyNoData:
    // shmem_zc is copy serving the client's registered pages in place: its device mode is copy.
    case mvg::Mode::ShmemZc: break;
  }
  return Mode::kCopy;
}

// The histogram's bucket sizes: (low, high], high capped at the largest request the device takes.
struct Bucket {
  std::uint64_t count = 0;
  std::uint64_t low = 0;
  std::uint64_t high = 0;
};
std::vector<Bucket> buckets_of(const IoStats& io, std::uint32_t max_io) {
  std::vector<Bucket> buckets;
  for (unsigned b = 0; b < SizeHistogram::kBuckets; ++b) {
    if (!io.sizes.count(b)) continue;
    const std::uint64_t high = std::min<std::uint64_t>(SizeHistogram::upper_bound(b), max_io);
    const std::uint64_t low = b == 0 ? 0 : std::min<std::uint64_t>(SizeHistogram::upper_bound(b - 1), high - kSector);
    buckets.push_back({io.sizes.count(b), low, high});
  }
  return buckets;
}

// The size of the buffer the pool gives a request of `length` bytes.
std::uint64_t buffer_size(const pool::SizeClasses& classes, std::uint64_t length) {
  return classes.size(classes.index_for(static_cast<std::size_t>(length)));
}

// Over the sector sizes of a bucket, spread evenly: the mean buffer minus the mean request.
double mean_waste_spread(const pool::SizeClasses& classes, const Bucket& b) {
  double waste = 0;
  std::uint64_t n = 0;
  for (std::uint64_t r = b.low + kSector; r <= b.high; r += kSector, ++n) {
    waste += static_cast<double>(buffer_size(classes, r) - r);
  }
  return n ? waste / static_cast<double>(n) : 0;
}

std::uint32_t usable_max_io(std::uint32_t max_io) {
  return max_io >= 4096 && max_io % 4096 == 0 && max_io <= pool::kMaxBufferSizeLimit ? max_io : 1U << 20;
}

}  // namespace

std::optional<ModeEvidence> load_mode_evidence(const std::filesystem::path& dir) {
  if (auto text = read_text(dir / "results.json")) {
    auto doc = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_discarded() && doc.is_object()) {
      ModeEvidence evidence;
      evidence.source = (dir / "results.json").string();
      if (auto rec = doc.find("recommendation"); rec != doc.end() && rec->contains("ranges")) {
        for (const auto& r : (*rec)["ranges"]) {
          const auto from = parse_block_size(r.value("from", ""));
          const auto to = parse_block_size(r.value("to", ""));
          const auto mode = mvg::mode_from_key(r.value("mode", ""));
          if (from && to && mode) evidence.ranges.push_back({*from, *to, *mode});
        }
      }
      if (auto cm = doc.find("cost_model"); cm != doc.end() && cm->is_object()) {
        if (auto x = cm->find("predicted_crossover_bytes"); x != cm->end() && x->is_number()) {
          evidence.crossover_bytes = x->get<double>();
        }
      }
      if (!evidence.ranges.empty() || evidence.crossover_bytes) return evidence;
    }
  }
  if (auto text = read_text(dir / "cost_model.json")) {
    try {
      const mvg::CostModel model = mvg::parse_cost_model_json(*text);
      ModeEvidence evidence;
      evidence.source = (dir / "cost_model.json").string();
      evidence.crossover_bytes = mvg::predict_crossover(model).block_size;
      return evidence;
    } catch (const std::exception&) {
    }
  }
  return std::nullopt;
}

std::vector<StepsWaste> waste_by_steps(const IoStats& io, std::uint32_t max_io) {
  const std::uint32_t max = usable_max_io(max_io);
  const auto buckets = buckets_of(io, max);
  const std::uint64_t requested = io.read_bytes + io.write_bytes;
  std::uint64_t at_tops = 0;
  for (const auto& b : buckets) at_tops += b.count * b.high;
  const bool sizes_known = at_tops == requested;

  std::vector<StepsWaste> out;
  double spread_waste_1 = 0;
  std::uint64_t waste_1 = 0;
  for (unsigned steps = 1; steps <= kMaxSteps; ++steps) {
    const pool::SizeClasses classes(max, steps);
    StepsWaste w;
    w.steps = steps;
    double spread = 0;
    std::uint64_t allocated_at_tops = 0;
    for (const auto& b : buckets) {
      allocated_at_tops += b.count * buffer_size(classes, b.high);
      spread += static_cast<double>(b.count) * mean_waste_spread(classes, b);
    }
    if (steps == 1 || sizes_known) {
      // Steps 1: every size in (high/2, high] takes the class `high` (4K at least): exact.
      w.allocated = allocated_at_tops;
      w.waste = allocated_at_tops > requested ? allocated_at_tops - requested : 0;
      w.exact = true;
    } else {
      w.waste = spread_waste_1 > 0 ? static_cast<std::uint64_t>(static_cast<double>(waste_1) * spread / spread_waste_1)
                                   : waste_1;
      w.allocated = requested + w.waste;
    }
    if (steps == 1) {
      spread_waste_1 = spread;
      waste_1 = w.waste;
    }
    out.push_back(w);
  }
  return out;
}

Advice advise(const RunSummary& s, const std::optional<ModeEvidence>& evidence) {
  Advice advice;
  const IoStats& io = s.io;
  const Features kernel(s.kernel_features);
  const std::uint64_t requests = io.sizes.total();
  if (requests == 0) {
    advice.lines.push_back({"mode", "", "no read or write seen yet: run the workload, then ask again"});
    return advice;
  }

  // The request size half the requests stay within.
  std::uint64_t median = 0;
  {
    std::uint64_t seen = 0;
    for (unsigned b = 0; b < SizeHistogram::kBuckets && !median; ++b) {
      seen += io.sizes.count(b);
      if (2 * seen >= requests) median = std::min<std::uint64_t>(SizeHistogram::upper_bound(b), s.shape.max_io_bytes ? s.shape.max_io_bytes : UINT64_MAX);
    }
  }
  const std::string median_text = "half the " + std::to_string(requests) + " requests are <= " + bytes_text(median);

  // zero_copy takes no buffer and copies nothing: no mode is cheaper, and the pool serves no data.
  if (s.mode == Mode::kZeroCopy) {
    advice.lines.push_back({"mode", "zero_copy", median_text + "; zero_copy copies nothing and takes no buffer: it stays"});
    advice.lines.push_back({"pool", "", "zero_copy takes no pool buffer for request data: nothing to size"});
    advice.restart_flags = {"--mode", "zero_copy", "--queues", std::to_string(s.shape.queues), "--depth",
                            std::to_string(s.shape.depth)};
    return advice;
  }

  // Buffer mode.
  Mode mode = s.mode;
  std::string why;
  if (evidence && !evidence->ranges.empty()) {
    const mvg::ModeRange* pick = &evidence->ranges.front();
    for (const auto& r : evidence->ranges) {
      if (r.from <= median) pick = &r;
    }
    mode = to_device_mode(pick->mode);
    why = median_text + "; " + evidence->source + " measured \"" + mvg::format_recommendation(evidence->ranges) +
          "\", so " + std::string(to_string(mode)) + " there";
  } else if (evidence && evidence->crossover_bytes) {
    mode = static_cast<double>(median) >= *evidence->crossover_bytes ? Mode::kGetData : Mode::kCopy;
    why = median_text + "; the cost model (" + evidence->source + ") puts get_data ahead of copying from " +
          human(static_cast<std::uint64_t>(*evidence->crossover_bytes));
  } else {
    why = median_text + "; no memcpy_vs_getdata result to compare modes on this machine (run it: docs/bench.md), "
                        "so the mode stays";
  }
  if (mode == Mode::kGetData && !has_feature(kernel, "NEED_GET_DATA")) {
    mode = Mode::kCopy;
    why += "; but this kernel lacks NEED_GET_DATA: copy";
  } else if (mode == Mode::kUserCopy && !has_feature(kernel, "USER_COPY")) {
    mode = Mode::kCopy;
    why += "; but this kernel lacks USER_COPY: copy";
  }
  if (mode == Mode::kAuto) mode = Mode::kCopy;
  advice.lines.push_back({"mode", std::string(to_string(mode)), why});
  if (has_feature(kernel, "AUTO_BUF_REG")) {
    advice.lines.push_back(
        {"zero-copy", "",
         s.target == "loop"
             ? "the kernel offers AUTO_BUF_REG: --mode zero_copy would serve the loop target's IO from the requests' "
               "own pages, with no buffer and no copy"
             : "the kernel offers AUTO_BUF_REG, but only the loop target can serve IO from the requests' own pages"});
  }
  advice.restart_flags = {"--mode", std::string(to_string(mode))};

  // Size classes.
  const bool per_request_buffers = mode != Mode::kCopy;
  if (!per_request_buffers) {
    advice.lines.push_back({"pool-steps", "1", "in copy mode each tag owns one max-IO buffer: size classes do not matter"});
    advice.restart_flags.insert(advice.restart_flags.end(), {"--pool-steps", "1"});
  } else {
    const auto waste = waste_by_steps(io, s.shape.max_io_bytes);
    const StepsWaste& one = waste.front();
    const StepsWaste* best = &one;
    for (const auto& w : waste) {
      if (w.waste < best->waste) best = &w;
    }
    // The fewest steps that get close to the best: more classes split the caches for little.
    const StepsWaste* pick = &one;
    if (static_cast<double>(one.waste - best->waste) >= kWorthwhileSaving * static_cast<double>(one.allocated)) {
      for (const auto& w : waste) {
        if (static_cast<double>(w.waste - best->waste) <= 0.01 * static_cast<double>(one.allocated)) {
          pick = &w;
          break;
        }
      }
    }
    std::string reason = "steps 1 allocates " + human(one.allocated) + " for the requests, " + human(one.waste) +
                         " (" + percent(one.waste, one.allocated) + ") more than asked";
    if (pick != &one) {
      reason += "; steps " + std::to_string(pick->steps) + " would waste " + human(pick->waste) + " (" +
                percent(pick->waste, pick->allocated) + (pick->exact ? ")" : ", estimated: the histogram's power-of-two "
                                                                           "buckets cannot say where within a bucket "
                                                                           "the sizes lie)");
    } else {
      reason += best->steps == 1 ? "; no steps setting wastes less" : "; more steps would save under " + percent(one.waste - best->waste, one.allocated) + ", not worth more classes";
    }
    advice.lines.push_back({"pool-steps", std::to_string(pick->steps), reason});
    advice.restart_flags.insert(advice.restart_flags.end(), {"--pool-steps", std::to_string(pick->steps)});
  }

  // Pool limit.
  const std::uint64_t tags = std::uint64_t{s.shape.queues} * s.shape.depth;
  if (!per_request_buffers) {
    const std::uint64_t fixed = tags * s.shape.max_io_bytes;
    advice.lines.push_back({"pool-limit", bytes_text(fixed),
                            "copy mode: " + std::to_string(tags) + " tags own a " + human(s.shape.max_io_bytes) +
                                " buffer each, which a lower limit would refuse at start"});
    advice.restart_flags.insert(advice.restart_flags.end(), {"--pool-limit", bytes_text(fixed)});
  } else if (s.mode == Mode::kCopy) {
    advice.lines.push_back({"pool-limit", "",
                            "the peak now is the tags' own buffers (copy mode): run in " +
                                std::string(to_string(mode)) + " and ask again for a limit"});
  } else if (s.pool.bytes_peak == 0) {
    advice.lines.push_back({"pool-limit", "", "no buffer was taken from the pool (--no-data?): nothing to size"});
  } else {
    std::uint64_t limit = round_up(static_cast<std::uint64_t>(static_cast<double>(s.pool.bytes_peak) * kLimitHeadroom), kMiB);
    std::string reason = "peak in use <= " + human(s.pool.bytes_peak) + " (the size classes' peaks summed), +" +
                         percent(static_cast<std::uint64_t>((kLimitHeadroom - 1) * 1000), 1000) + " headroom";
    // Each queue must be able to hold one request of the largest size, or it could wait forever.
    const std::uint64_t floor = std::uint64_t{s.shape.queues} * s.shape.max_io_bytes;
    if (limit < floor) {
      limit = round_up(floor, kMiB);
      reason += ", but at least one max-IO buffer (" + human(s.shape.max_io_bytes) + ") per queue";
    }
    if (io.exhaustion_waits && s.shape.pool_limit) {
      const std::uint64_t raised = round_up(s.shape.pool_limit + s.shape.pool_limit / 2, kMiB);
      if (raised > limit) limit = raised;
      reason += "; " + std::to_string(io.exhaustion_waits) + " requests waited for a buffer under the limit of " +
                human(s.shape.pool_limit) + ": raise it by half";
    } else if (io.exhaustion_waits) {
      reason += "; " + std::to_string(io.exhaustion_waits) + " requests waited for a buffer";
    }
    advice.lines.push_back({"pool-limit", bytes_text(limit), reason});
    advice.restart_flags.insert(advice.restart_flags.end(), {"--pool-limit", bytes_text(limit)});
  }

  // Depth and queues, from the requests in flight at once: in a per-request mode each holds one
  // buffer, so the peak of buffers out bounds it from above.
  unsigned depth = s.shape.depth;
  if (s.mode == Mode::kCopy || !tags) {
    advice.lines.push_back({"depth", "", "copy mode keeps every tag's buffer out: the concurrency cannot be seen"});
  } else {
    const std::uint64_t in_flight = s.pool.buffers_peak;
    const std::string seen = "at most " + std::to_string(in_flight) + " requests held a buffer at once, of " +
                             std::to_string(tags) + " tags";
    if (10 * in_flight >= 9 * tags && depth < kMaxQueueDepth) {
      depth = std::min<unsigned>(depth * 2, kMaxQueueDepth);
      advice.lines.push_back({"depth", std::to_string(depth), seen + ": the queues were full, double the depth"});
    } else if (4 * in_flight <= tags && depth > 32) {
      unsigned want = 32;
      while (want < depth && std::uint64_t{want} * s.shape.queues < 2 * in_flight) want *= 2;
      depth = std::min(want, depth);
      advice.lines.push_back({"depth", std::to_string(depth), seen + ": twice that is enough"});
    } else {
      advice.lines.push_back({"depth", std::to_string(depth), seen + ": keep"});
    }
  }
  if (depth != s.shape.depth || mode != s.mode) advice.shape_changes = true;
  advice.lines.push_back({"queues", std::to_string(s.shape.queues),
                          depth == kMaxQueueDepth && depth != s.shape.depth
                              ? "the depth is at its maximum: add queues if the application submits from more threads"
                              : "keep: this version counts no per-queue concurrency to balance"});
  advice.restart_flags.insert(advice.restart_flags.end(),
                              {"--queues", std::to_string(s.shape.queues), "--depth", std::to_string(depth)});
  return advice;
}

std::string format_advice(const Advice& advice, const RunSummary& s, const std::string& program) {
  std::string out;
  for (const auto& line : advice.lines) {
    out += line.setting + ": " + (line.value.empty() ? "(no change)" : line.value) + "\n    because " + line.reason + "\n";
  }
  if (advice.restart_flags.empty()) return out;
  std::string flags;
  for (const auto& f : advice.restart_flags) flags += " " + f;
  out += "restart with:\n  " + program + flags + "\n";
  if (advice.shape_changes) {
    out += "  (a new mode or depth makes a new device: stop " + s.device + " and start again; --recover keeps its\n"
           "  mode and shape)\n";
  }
  return out;
}

}  // namespace ublk::cli
