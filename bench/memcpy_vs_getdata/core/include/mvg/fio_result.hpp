#pragma once
// The figures the bench takes from one fio run (--output-format=json).

#include <cstdint>
#include <string>
#include <string_view>

#include <stdexcept>

namespace mvg {

// Which fio latency the figures are: "lat" is submission to completion (what the seed quoted),
// "clat" is completion only. fio reports percentiles of lat only with --lat_percentiles=1.
enum class LatencySource { Lat, Clat };

struct FioResult {
  LatencySource source = LatencySource::Lat;
  std::string rw;            // the job's rw= option
  std::uint64_t block_size = 0;
  std::uint64_t total_ios = 0;
  double runtime_ms = 0;
  double iops = 0;
  double mean_us = 0;
  double p50_us = 0;
  double p99_us = 0;
  double max_us = 0;
};

struct FioParseError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Parses fio's JSON output for a single write job. fio may print notes before the JSON document;
// they are skipped. Throws FioParseError, with a message a user can act on, when the document is not
// fio JSON, the job reported an error, or no write completed.
FioResult parse_fio_json(std::string_view text);

std::string_view to_string(LatencySource source);

}  // namespace mvg
