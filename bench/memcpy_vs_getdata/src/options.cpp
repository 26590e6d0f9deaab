#include "options.hpp"

#include <cctype>
#include <charconv>
#include <cstdio>

namespace mvg {
namespace {

double parse_positive(const std::string& flag, const std::string& text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || !(value > 0)) {
    throw UsageError(flag + " wants a positive number, not '" + text + "'");
  }
  return value;
}

unsigned parse_count(const std::string& flag, const std::string& text, unsigned max) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value == 0 || value > max) {
    throw UsageError(flag + " wants a whole number from 1 to " + std::to_string(max) + ", not '" +
                     text + "'");
  }
  return value;
}

bool is_size(const std::string& text) {
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0) return false;
  auto suffix = text.substr(digits);
  return suffix.empty() || suffix == "K" || suffix == "M" || suffix == "k" || suffix == "m";
}

std::string format(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", value);
  return buf;
}

}  // namespace

std::string usage_text() {
  return R"(usage: memcpy_vs_getdata [options]
Re-measures the seed's NEED_GET_DATA tables: fio (direct=1, libaio, iodepth=1, numjobs=1) against
ublk-pool-null in each buffer mode, on the host's own ublk or else in a qemu VM (tests/vm).
Prints Table 2 (randwrite, 4k..1m) and Table 1 (4k write/randwrite) beside the seed's figures, the
native cost model and a recommendation; writes results.csv, results.json, report.txt and
latency.png under --out.

  --quick             a ~2 minute run: 1 repetition, shorter fio runs
  --reps N            repetitions of every cell (default 3; --quick 1)
  --runtime SEC       fio time per run (default: from --budget)
  --ramp SEC          fio ramp before each run's measurement (default 0.5)
  --budget MIN        the whole run's time budget, which sets --runtime (default 10; --quick 2)
  --out DIR           results directory (default BUILD/bench-results/memcpy_vs_getdata)
  --kernel 7.3|6.12   the VM's kernel when the host has no ublk (default 7.3)
  --native            run on the host's ublk; fail if it has none
  --vm                run in the qemu VM even when the host has ublk
  --max-io SIZE       the daemons' --max-io (default 512K, the seed's: 1m IOs split in two)
  --start-timeout SEC how long a daemon may take to bring its device up (default 60)
  --no-model          skip the native cost model (build/bin/cost_model)
  --repo DIR          the source tree (for tests/vm/run-in-vm.sh; default: found from the binary)
  --daemon PATH       ublk-pool-null to run (default: beside this binary)
  --only TEXT         run only the cells whose key contains TEXT (e.g. 4k-get_data, 1m-); the
                      tables then have gaps
  --report-only       run nothing: print and write the report of the run already in --out
  --fio-file PATH     dry run for tool development: fio on a regular file, no ublk, no daemon
  -h, --help          this help
)";
}

Options parse_options(const std::vector<std::string>& args) {
  Options o;
  bool reps_given = false;
  bool budget_given = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& arg = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) throw UsageError(arg + " needs a value");
      return args[++i];
    };
    if (arg == "-h" || arg == "--help") {
      o.help = true;
    } else if (arg == "--quick") {
      o.quick = true;
    } else if (arg == "--inner") {
      o.inner = true;
    } else if (arg == "--reps") {
      o.reps = parse_count(arg, value(), 100);
      reps_given = true;
    } else if (arg == "--runtime") {
      o.runtime_s = parse_positive(arg, value());
    } else if (arg == "--ramp") {
      const auto& v = value();
      o.ramp_s = v == "0" ? 0 : parse_positive(arg, v);
    } else if (arg == "--budget") {
      o.budget_min = parse_positive(arg, value());
      budget_given = true;
    } else if (arg == "--out") {
      o.out_dir = value();
    } else if (arg == "--kernel") {
      o.kernel = value();
      if (o.kernel != "7.3" && o.kernel != "6.12") {
        throw UsageError("--kernel wants 7.3 or 6.12, not '" + o.kernel + "'");
      }
    } else if (arg == "--native") {
      o.where = Where::Native;
    } else if (arg == "--vm") {
      o.where = Where::Vm;
    } else if (arg == "--max-io") {
      o.max_io = value();
      if (!is_size(o.max_io)) throw UsageError("--max-io wants a size like 512K or 1M, not '" + o.max_io + "'");
    } else if (arg == "--start-timeout") {
      o.start_timeout_s = parse_positive(arg, value());
    } else if (arg == "--no-model") {
      o.model = false;
    } else if (arg == "--repo") {
      o.repo_dir = value();
    } else if (arg == "--daemon") {
      o.daemon = value();
    } else if (arg == "--report-only") {
      o.report_only = true;
    } else if (arg == "--only") {
      o.only = value();
    } else if (arg == "--fio-file") {
      o.fio_file = value();
    } else {
      throw UsageError("unknown option '" + arg + "' (see --help)");
    }
  }
  if (o.quick) {
    if (!reps_given) o.reps = 1;
    if (!budget_given) o.budget_min = 2;
  }
  return o;
}

std::vector<std::string> inner_arguments(const Options& o, double runtime_s) {
  std::vector<std::string> args{"--inner",          "--out",         o.out_dir,
                                "--reps",           std::to_string(o.reps),
                                "--runtime",        format(runtime_s),
                                "--ramp",           format(o.ramp_s),
                                "--max-io",         o.max_io,
                                "--start-timeout",  format(o.start_timeout_s),
                                "--daemon",         o.daemon};
  if (!o.fio_file.empty()) args.insert(args.end(), {"--fio-file", o.fio_file});
  if (!o.only.empty()) args.insert(args.end(), {"--only", o.only});
  return args;
}

}  // namespace mvg
