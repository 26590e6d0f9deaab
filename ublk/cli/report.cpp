#include "report.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace ublk::cli {

namespace {
struct HitMiss {
  std::uint64_t hits = 0, misses = 0;
};
HitMiss hit_miss(const std::optional<pool::ProviderStats>& stats) {
  HitMiss hm;
  if (!stats) return hm;
  for (const auto& c : stats->classes) {
    hm.hits += c.hits;
    hm.misses += c.misses;
  }
  return hm;
}
}  // namespace

std::string report_text(const RunSummary& s) {
  const IoStats& io = s.io;
  const HitMiss hm = hit_miss(s.provider_stats);
  char line[512];
  std::string out;
  std::snprintf(line, sizeof line, "%s removed; target %s, mode %s, provider %s%s%s\n", s.device.c_str(),
                s.target.c_str(), std::string(to_string(s.mode)).c_str(), s.provider.c_str(),
                s.app_copy ? ", app-copy" : "", s.no_data ? ", no-data" : "");
  out += line;
  std::snprintf(line, sizeof line,
                "  ios: %llu reads (%llu B), %llu writes (%llu B), %llu flushes, %llu discards, %llu other; "
                "%llu errors (%llu ENOMEM); %llu NEED_GET_DATA\n",
                (unsigned long long)io.reads, (unsigned long long)io.read_bytes, (unsigned long long)io.writes,
                (unsigned long long)io.write_bytes, (unsigned long long)io.flushes, (unsigned long long)io.discards,
                (unsigned long long)io.other_ops, (unsigned long long)io.errors, (unsigned long long)io.enomem,
                (unsigned long long)io.get_data);
  out += line;
  out += "  request sizes:";
  for (unsigned b = 0; b < SizeHistogram::kBuckets; ++b) {
    if (io.sizes.count(b)) out += " <=" + SizeHistogram::label(b) + ":" + std::to_string(io.sizes.count(b));
  }
  if (io.sizes.total() == 0) out += " none";
  out += "\n";
  std::snprintf(line, sizeof line,
                "  provider %s: %llu acquires, %llu failed; pool hits %llu, misses %llu; %llu IOs waited for a "
                "buffer; %llu B still in use\n",
                s.provider.c_str(), (unsigned long long)io.acquires, (unsigned long long)io.acquire_failures,
                (unsigned long long)hm.hits, (unsigned long long)hm.misses, (unsigned long long)io.exhaustion_waits,
                (unsigned long long)(s.provider_stats ? s.provider_stats->bytes_in_use : 0));
  out += line;
  std::snprintf(line, sizeof line,
                "  copies: kernel %llu B, userspace %llu B; userspace bytes copied per WRITE byte: %.3f\n",
                (unsigned long long)io.kernel_copy_bytes, (unsigned long long)io.userspace_copy_bytes,
                io.userspace_copies_per_write_byte());
  out += line;
  if (!s.target_counters.empty()) {
    out += "  target " + s.target + ":";
    for (const auto& [name, value] : s.target_counters) out += " " + name + " " + std::to_string(value);
    out += "\n";
  }
  return out;
}

std::string report_json(const RunSummary& s) {
  const IoStats& io = s.io;
  const HitMiss hm = hit_miss(s.provider_stats);
  nlohmann::json j;
  j["device"] = s.device;
  j["target"] = s.target;
  j["mode"] = std::string(to_string(s.mode));
  j["provider"] = s.provider;
  j["app_copy"] = s.app_copy;
  j["no_data"] = s.no_data;
  j["ios"] = {{"reads", io.reads},       {"writes", io.writes},         {"flushes", io.flushes},
              {"discards", io.discards}, {"other", io.other_ops},        {"read_bytes", io.read_bytes},
              {"write_bytes", io.write_bytes}, {"errors", io.errors},    {"enomem", io.enomem},
              {"get_data", io.get_data}};
  nlohmann::json sizes = nlohmann::json::array();
  for (unsigned b = 0; b < SizeHistogram::kBuckets; ++b) {
    sizes.push_back({{"le", SizeHistogram::label(b)}, {"count", io.sizes.count(b)}});
  }
  j["request_sizes"] = sizes;
  j["provider_stats"] = {{"acquires", io.acquires},
                         {"acquire_failures", io.acquire_failures},
                         {"exhaustion_waits", io.exhaustion_waits},
                         {"hits", hm.hits},
                         {"misses", hm.misses},
                         {"bytes_in_use", s.provider_stats ? s.provider_stats->bytes_in_use : 0},
                         {"bytes_limit", s.provider_stats ? s.provider_stats->bytes_limit : 0}};
  j["copies"] = {{"kernel_bytes", io.kernel_copy_bytes},
                 {"userspace_bytes", io.userspace_copy_bytes},
                 {"userspace_per_write_byte", io.userspace_copies_per_write_byte()}};
  if (!s.target_counters.empty()) {
    auto& counters = j["target_stats"] = nlohmann::json::object();
    for (const auto& [name, value] : s.target_counters) counters[name] = value;
  }
  return j.dump() + "\n";
}

}  // namespace ublk::cli
