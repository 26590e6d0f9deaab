#include "mvg/fio_result.hpp"

#include <cctype>
#include <cstring>

#include <nlohmann/json.hpp>

namespace mvg {
namespace {

using nlohmann::json;

constexpr double kNsPerUs = 1000.0;

const json& member(const json& object, const char* name, std::string_view where) {
  auto it = object.find(name);
  if (it == object.end()) {
    throw FioParseError("fio JSON: no \"" + std::string(name) + "\" in " + std::string(where));
  }
  return *it;
}

double percentile_us(const json& latency, const char* key, std::string_view where) {
  const auto& percentiles = member(latency, "percentile", where);
  return member(percentiles, key, where).get<double>() / kNsPerUs;
}

std::uint64_t parse_size(const std::string& text) {
  std::size_t used = 0;
  auto value = std::stoull(text, &used);
  std::string suffix = text.substr(used);
  if (suffix.empty()) return value;
  switch (std::tolower(static_cast<unsigned char>(suffix[0]))) {
    case 'k': return value << 10;
    case 'm': return value << 20;
    case 'g': return value << 30;
    default: throw FioParseError("fio JSON: unreadable block size \"" + text + "\"");
  }
}

}  // namespace

std::string_view to_string(LatencySource source) {
  return source == LatencySource::Lat ? "lat" : "clat";
}

FioResult parse_fio_json(std::string_view text) {
  auto start = text.find('{');
  if (start == std::string_view::npos) throw FioParseError("fio output holds no JSON document");
  json doc = json::parse(text.substr(start), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) throw FioParseError("fio output is not valid JSON");

  const auto& jobs = member(doc, "jobs", "the document");
  if (!jobs.is_array() || jobs.size() != 1) {
    throw FioParseError("fio JSON: expected exactly one job (numjobs=1 with group_reporting)");
  }
  const auto& job = jobs[0];
  if (auto error = job.value("error", 0); error != 0) {
    throw FioParseError("fio job failed with error " + std::to_string(error) + " (" +
                        std::strerror(error) + ")");
  }
  const auto& write = member(job, "write", "the job");

  FioResult r;
  r.total_ios = member(write, "total_ios", "write").get<std::uint64_t>();
  if (r.total_ios == 0) throw FioParseError("fio job completed no write");
  r.runtime_ms = member(write, "runtime", "write").get<double>();
  r.iops = member(write, "iops", "write").get<double>();

  const auto& lat = member(write, "lat_ns", "write");
  const json* latency = &lat;
  if (!lat.contains("percentile")) {
    r.source = LatencySource::Clat;
    latency = &member(write, "clat_ns", "write");
  }
  const std::string where = std::string(to_string(r.source)) + "_ns";
  r.mean_us = member(*latency, "mean", where).get<double>() / kNsPerUs;
  r.max_us = member(*latency, "max", where).get<double>() / kNsPerUs;
  r.p50_us = percentile_us(*latency, "50.000000", where);
  r.p99_us = percentile_us(*latency, "99.000000", where);

  const auto& options = member(job, "job options", "the job");
  r.rw = options.value("rw", std::string{});
  if (auto bs = options.find("bs"); bs != options.end()) r.block_size = parse_size(bs->get<std::string>());
  return r;
}

}  // namespace mvg
