#include "options.hpp"

#include <charconv>
#include <cstdio>

#include "cli/args.hpp"
#include "cli/size.hpp"
#include "mvg/mode.hpp"

namespace mvg {
namespace {

double parse_positive(const std::string& flag, const std::string& text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || !(value > 0)) {
    throw cli::UsageError(flag + " wants a positive number, not '" + text + "'");
  }
  return value;
}

unsigned parse_count(const std::string& flag, const std::string& text, unsigned max) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value == 0 || value > max) {
    throw cli::UsageError(flag + " wants a whole number from 1 to " + std::to_string(max) + ", not '" +
                     text + "'");
  }
  return value;
}

// Every key must name a mode; returns the list as given.
std::string parse_modes(const std::string& list) {
  std::size_t start = 0;
  while (true) {
    const auto comma = list.find(',', start);
    const std::string key = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!mode_from_key(key)) {
      throw cli::UsageError(cli::bad_value("--mode", list, "want a comma list of copy_app_copy, get_data, user_copy, copy, copy_no_data, shmem_zc"));
    }
    if (comma == std::string::npos) return list;
    start = comma + 1;
  }
}

std::string format(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", value);
  return buf;
}

}  // namespace

std::string usage_text() {
  return R"(usage: memcpy_vs_getdata [options]
Re-measures the NEED_GET_DATA trade-off ("ublk: add UBLK_IO_NEED_GET_DATA", the 2022 kernel patch
series whose cover letter published two latency tables): fio (direct=1, libaio, iodepth=1,
numjobs=1) against ublk-pool-null in each buffer mode, on the host's own ublk or else in a qemu VM
(tests/vm). Prints the cover letter's Table 2 (randwrite, 4k..1m) and Table 1 (4k write/randwrite)
beside its figures, the native cost model and a recommendation. Each run writes results.csv,
results.json, report.txt and latency.png to a new folder OUT/YYYYmmdd-HHMMSS and points OUT/latest
at it; earlier runs are kept. Needs root for the native run (ublk, kernel 6.0 or later).

  --quick             a ~2 minute run: 1 repetition, shorter fio runs
  --reps N            repetitions of every cell (default 3; --quick 1)
  --runtime SEC       fio time per run (default: from --budget)
  --ramp SEC          fio ramp before each run's measurement (default 0.5)
  --budget MIN        the whole run's time budget, which sets --runtime (default 10; --quick 2)
  --out DIR           where the runs' folders go (default BUILD/bench-results/memcpy_vs_getdata)
  --vm KERNEL         run in the qemu VM with KERNEL, 7.3 or 6.12, even when the host has ublk
                      (default: natively when the host has ublk, else in a 7.3 VM)
  --native            run on the host's ublk; refuse if it has none (not with --vm)
  --mode LIST         only these modes, comma-separated: copy_app_copy, get_data, user_copy, copy,
                      copy_no_data, shmem_zc (default: all; the tables then have gaps). shmem_zc:
                      the daemon's --shmem-file and fio's --mem=mmaphuge on one hugetlbfs file,
                      where the kernel has UBLK_F_SHMEM_ZC (7.1+; else n/a, with the reason)
  --max-io SIZE       the daemons' --max-io (default 512K: 1m IOs split in two, as in the
                      cover letter's setup)
  --start-timeout SEC how long a daemon may take to bring its device up (default 60)
  --no-model          skip the native cost model (build/bin/cost_model)
  --repo DIR          the source tree (for tests/vm/run-in-vm.sh; default: found from the binary)
  --daemon PATH       ublk-pool-null to run (default: beside this binary)
  --only TEXT         run only the cells whose key contains TEXT (e.g. 4k-get_data, 1m-); the
                      tables then have gaps
  --report-only       run nothing: print and write the report of the run in --out (OUT/latest,
                      or --out naming one run's folder)
  --fio-file PATH     dry run for tool development: fio on a regular file, no ublk, no daemon
  -h, --help          this help
  --version           the version
Sizes take K, M, G, T suffixes. Exit 0 when every run measured, 1 when the run failed, 2 for a bad
command line, 3 when some cells failed (docs/cli.md, docs/bench.md).
)";
}

Options parse_options(const std::vector<std::string>& argv) {
  Options o;
  bool reps_given = false;
  bool budget_given = false;
  bool vm_given = false;
  bool native_given = false;
  cli::Args args(argv);
  while (args.next()) {
    const std::string arg(args.name());
    if (args.is("-h", "--help")) {
      o.help = args.flag();
    } else if (args.is("--version")) {
      o.version = args.flag();
    } else if (args.is("--quick")) {
      o.quick = args.flag();
    } else if (args.is("--inner")) {
      o.inner = args.flag();
    } else if (args.is("--reps")) {
      o.reps = parse_count(arg, args.value(), 100);
      reps_given = true;
    } else if (args.is("--runtime")) {
      o.runtime_s = parse_positive(arg, args.value());
    } else if (args.is("--ramp")) {
      const auto v = args.value();
      o.ramp_s = v == "0" ? 0 : parse_positive(arg, v);
    } else if (args.is("--budget")) {
      o.budget_min = parse_positive(arg, args.value());
      budget_given = true;
    } else if (args.is("--out")) {
      o.out_dir = args.value();
      if (o.out_dir.empty()) throw cli::UsageError(cli::bad_value(arg, o.out_dir, "want a directory"));
    } else if (args.is("--vm")) {
      o.kernel = args.value();
      if (o.kernel != "7.3" && o.kernel != "6.12") throw cli::UsageError(cli::bad_value(arg, o.kernel, "want 7.3 or 6.12"));
      o.where = Where::Vm;
      vm_given = true;
    } else if (args.is("--native")) {
      o.where = Where::Native;
      native_given = args.flag();
    } else if (args.is("--mode")) {
      o.modes = parse_modes(args.value());
    } else if (args.is("--max-io")) {
      o.max_io = args.value();
      const auto bytes = cli::parse_size(o.max_io);
      if (!bytes) throw cli::UsageError(cli::bad_size(arg, o.max_io));
      if (*bytes < 4096 || *bytes % 4096) throw cli::UsageError(cli::bad_size(arg, o.max_io, "a multiple of 4K"));
    } else if (args.is("--start-timeout")) {
      o.start_timeout_s = parse_positive(arg, args.value());
    } else if (args.is("--no-model")) {
      o.model = !args.flag();
    } else if (args.is("--repo")) {
      o.repo_dir = args.value();
    } else if (args.is("--daemon")) {
      o.daemon = args.value();
    } else if (args.is("--report-only")) {
      o.report_only = args.flag();
    } else if (args.is("--only")) {
      o.only = args.value();
    } else if (args.is("--fio-file")) {
      o.fio_file = args.value();
    } else {
      args.unknown();
    }
  }
  if (!args.rest().empty()) throw cli::UsageError("unexpected argument '" + args.rest().front() + "' (see --help)");
  if (vm_given && native_given) throw cli::UsageError("--native and --vm conflict (pick one)");
  if (!o.fio_file.empty() && (vm_given || native_given)) {
    throw cli::UsageError("--fio-file is a dry run without ublk: it does not go with --native or --vm");
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
  if (!o.modes.empty()) args.insert(args.end(), {"--mode", o.modes});
  return args;
}

}  // namespace mvg
