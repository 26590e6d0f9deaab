#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pool/stats.hpp"
#include "ublk/mode.hpp"
#include "ublk/stats.hpp"

namespace ublk::cli {

struct RunSummary {
  std::string device;        // /dev/ublkbN
  std::string target;        // null | mem
  Mode mode = Mode::kAuto;
  std::string provider;
  bool app_copy = false;
  bool no_data = false;
  IoStats io;
  std::optional<pool::ProviderStats> provider_stats;
  std::vector<std::pair<std::string, std::uint64_t>> target_counters;  // the target's own (loop: fdatasyncs)
};

std::string report_text(const RunSummary& summary);
std::string report_json(const RunSummary& summary);

}  // namespace ublk::cli
