#pragma once
// The command line of memcpy_vs_getdata.

#include <optional>
#include <string>
#include <vector>

namespace mvg {

enum class Where { Auto, Native, Vm };

struct Options {
  bool help = false;
  bool version = false;
  bool quick = false;
  bool inner = false;  // the side that runs next to the ublk devices (in the VM, or natively)
  unsigned reps = 3;
  std::optional<double> runtime_s;  // fio time per run; default: from the time budget
  double ramp_s = 0.5;
  double budget_min = 10;
  std::string out_dir;
  std::string kernel = "7.3";  // the VM's: --vm KERNEL, else 7.3 when the host has no ublk
  Where where = Where::Auto;
  std::string repo_dir;
  std::string daemon;
  std::string max_io = "512K";
  double start_timeout_s = 60;
  bool model = true;
  std::string fio_file;  // dry run: fio on this regular file instead of ublk devices
  std::string only;      // run only the cells whose key contains this
  std::string modes;     // --mode LIST: comma-separated mode keys; empty: every mode
  bool report_only = false;  // re-render the report of the run in --out
};

// Throws cli::UsageError with a one-line message on bad input.
Options parse_options(const std::vector<std::string>& args);
// The arguments that make the inner side run what `options` asks (explicit runtime included).
std::vector<std::string> inner_arguments(const Options& options, double runtime_s);
std::string usage_text();

}  // namespace mvg
