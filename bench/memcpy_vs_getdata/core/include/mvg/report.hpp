#pragma once
// Everything a bench run produced, rendered as the seed's tables, CSV, JSON and a gnuplot plot.

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "mvg/cost_model.hpp"
#include "mvg/results.hpp"

namespace mvg {

struct Environment {
  bool native = false;  // false: a qemu VM under TCG emulation
  std::string kernel;   // uname -r of the kernel that ran the ublk devices
  std::string date;     // when the run started, ISO 8601 UTC
  bool dry_run = false; // fio ran on a regular file, not on ublk devices (tool development only)
};

struct Settings {
  unsigned reps = 0;
  double runtime_s = 0;  // fio time per run, after its ramp
  double ramp_s = 0;
  std::string max_io;    // the daemons' --max-io
};

struct Report {
  Environment env;
  Settings settings;
  Results results;
  std::optional<CostModel> cost_model;  // measured natively on the host
};

// The lines that say where and how the figures were measured.
std::string header_text(const Report& report);
std::string table2_text(const Results& results);
std::string table1_text(const Results& results);
// Per mode, the copies per WRITE byte the daemons counted: the proof that each column is what it says.
std::string copies_text(const Results& results);
// The native cost model's figures and the crossover they predict, plus the crossover measured here.
std::string model_text(const Report& report);

std::string results_csv(const Results& results);
nlohmann::json report_json(const Report& report);

// Table 2's latency against block size, one p50/p99 column pair per mode, for gnuplot.
std::string plot_data(const Results& results);
std::string plot_script(const Report& report, const std::string& data_path,
                        const std::string& png_path);

// The smallest of Table 2's block sizes from which get_data's median stays below 2-memcpy's.
std::optional<std::uint64_t> measured_crossover(const Results& results);

}  // namespace mvg
