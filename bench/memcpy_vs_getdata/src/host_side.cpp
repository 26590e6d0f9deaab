#include "host_side.hpp"

#include <unistd.h>

#include <cmath>
#include <ctime>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "child_process.hpp"
#include "clock_text.hpp"
#include "inner_side.hpp"
#include "mvg/daemon_stats.hpp"
#include "mvg/recommendation.hpp"
#include "mvg/report.hpp"
#include "stop_request.hpp"

namespace mvg {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// What a run costs beyond fio's own time, and what the whole bench costs once, for the budget.
// Measured on this project's 2-core machines (docs/bench.md).
struct Overheads {
  double per_run_s;
  double fixed_s;
};
constexpr Overheads kNativeOverheads{0.3, 8};
constexpr Overheads kVmOverheads{2.5, 25};
constexpr double kMinRuntimeS = 0.5;
// run-in-vm.sh's exit when no VM could run the command (docs/vm-harness.md).
constexpr int kVmSkipped = 77;
constexpr double kMaxRuntimeS = 20;

struct SetupError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) throw SetupError("cannot write " + path.string());
}

fs::path exe_dir() { return fs::canonical("/proc/self/exe").parent_path(); }

// The source tree: --repo, else the first ancestor of the binary with the VM harness, else the
// tree it was built from.
fs::path find_repo(const Options& o) {
  if (!o.repo_dir.empty()) return fs::absolute(o.repo_dir);
  for (auto dir = exe_dir(); !dir.empty() && dir != dir.root_path(); dir = dir.parent_path()) {
    if (fs::exists(dir / "tests/vm/run-in-vm.sh")) return dir;
  }
  return UBLKPOOL_SOURCE_DIR;
}

// Whether the host kernel has ublk, loading the module if it can; `why_not` says what was tried.
bool host_has_ublk(std::string& why_not) {
  if (fs::exists("/dev/ublk-control")) return true;
  why_not = "the host kernel has no /dev/ublk-control";
  auto modprobe = find_in_path("modprobe");
  if (modprobe.empty()) {
    why_not += " and there is no modprobe";
    return false;
  }
  try {
    ChildProcess probe(ChildSpec({modprobe, "-q", "ublk_drv"}).stdout_to("/dev/null").stderr_to("/dev/null"));
    probe.wait_for(30s);
  } catch (const std::system_error&) {
  }
  if (fs::exists("/dev/ublk-control")) return true;
  why_not += " and modprobe ublk_drv failed";
  return false;
}

struct Plan {
  bool native = false;
  bool dry = false;
  fs::path run_in_vm;
  double runtime_s = 0;
  double estimate_s = 0;
  std::size_t runs = 0;
};

Plan make_plan(Options& o) {
  Plan p;
  p.dry = !o.fio_file.empty();
  if (!p.dry) {
    if (!fs::exists(o.daemon)) {
      throw SetupError("ublk-pool-null not found at " + o.daemon +
                       ": build it (cmake --build build --target ublk-pool-null) or pass --daemon");
    }
    std::string why_not;
    bool native_ok = o.where != Where::Vm && host_has_ublk(why_not);
    if (o.where == Where::Native && !native_ok) throw SetupError("--native: " + why_not);
    p.native = native_ok;
    if (!p.native) {
      auto repo = find_repo(o);
      p.run_in_vm = repo / "tests/vm/run-in-vm.sh";
      std::string prefix = o.where == Where::Vm ? "--vm: " : "no ublk on this host (" + why_not + ") and no VM possible: ";
      if (!fs::exists(p.run_in_vm)) {
        throw SetupError(prefix + p.run_in_vm.string() + " not found (pass --repo SOURCE_TREE)");
      }
      if (find_in_path("qemu-system-x86_64").empty()) {
        throw SetupError(prefix + "qemu-system-x86_64 is missing (apt-get install qemu-system-x86)");
      }
    }
  }
  auto overheads = p.native || p.dry ? kNativeOverheads : kVmOverheads;
  p.runs = selected_cells(o.only, o.modes).size() * o.reps;
  if (p.runs == 0) throw SetupError("--only '" + o.only + "' and --mode '" + o.modes + "' match no cell (keys look like randwrite-64k-get_data)");
  if (o.runtime_s) {
    p.runtime_s = *o.runtime_s;
  } else {
    double per_run = (o.budget_min * 60 - overheads.fixed_s) / static_cast<double>(p.runs);
    p.runtime_s = std::clamp(per_run - overheads.per_run_s - o.ramp_s, kMinRuntimeS, kMaxRuntimeS);
    p.runtime_s = std::floor(p.runtime_s * 10) / 10;
  }
  p.estimate_s = overheads.fixed_s +
                 static_cast<double>(p.runs) * (p.runtime_s + o.ramp_s + overheads.per_run_s);
  return p;
}

std::optional<CostModel> run_cost_model(const Options& o, const fs::path& out) {
  if (!o.model) return std::nullopt;
  auto binary = exe_dir() / "cost_model";
  if (!fs::exists(binary)) {
    std::fprintf(stderr, "memcpy_vs_getdata: %s not found; no cost model\n", binary.c_str());
    return std::nullopt;
  }
  std::fprintf(stderr, "memcpy_vs_getdata: native cost model (%s) ...\n", binary.c_str());
  auto json_path = out / "cost_model.json";
  try {
    ChildProcess model(ChildSpec({binary.string(), "--benchmark_format=json", "--benchmark_min_time=0.2"})
                           .stdout_to(json_path.string())
                           .stderr_to((out / "cost_model.err").string()));
    while (!model.wait_for(100ms)) {
      if (stop_signal()) return std::nullopt;
    }
    if (*model.status() != 0) throw CostModelError("cost_model " + describe_status(*model.status()));
    return parse_cost_model_json(read_file(json_path));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "memcpy_vs_getdata: no cost model: %s\n", e.what());
    return std::nullopt;
  }
}

int run_in_vm(const Options& o, const Plan& plan) {
  std::vector<std::string> argv{plan.run_in_vm.string(), "--vm", o.kernel, "--timeout",
                                std::to_string(static_cast<long>(plan.estimate_s * 2 + 300))};
  // The kernel cache of the build tree this binary belongs to, as the ctest VM tests use it,
  // unless the user points the harness elsewhere.
  if (!getenv("UBLK_VM_CACHE")) argv.insert(argv.end(), {"--cache", (exe_dir().parent_path() / "vm").string()});
  argv.push_back("--");
  argv.push_back(fs::canonical("/proc/self/exe").string());
  auto inner = inner_arguments(o, plan.runtime_s);
  argv.insert(argv.end(), inner.begin(), inner.end());
  ChildProcess vm(ChildSpec(argv).stdout_to_our_stderr().in_dir("/").with_env("UBLK_VM_RESULTS=" + o.out_dir));
  while (!vm.wait_for(100ms)) {
    if (int sig = stop_signal()) {
      std::fprintf(stderr, "memcpy_vs_getdata: stopping the VM (signal %d)\n", sig);
      vm.terminate(10s);
      return 128 + sig;
    }
  }
  int st = *vm.status();
  if (!WIFEXITED(st)) return 1;
  int rc = WEXITSTATUS(st);
  if (rc == 124) std::fprintf(stderr, "memcpy_vs_getdata: the VM timed out\n");
  if (rc == kVmSkipped) std::fprintf(stderr, "memcpy_vs_getdata: the VM could not boot (see above)\n");
  return rc;
}

struct CellRuns {
  Cell cell;
  std::vector<FioResult> reps;
  std::vector<double> copies;
  std::string error;
};

Results read_results(const nlohmann::json& manifest, const fs::path& out, std::vector<std::string>& errors) {
  std::map<std::string, CellRuns> by_cell;
  for (const auto& cell : all_cells()) by_cell[cell.key()].cell = cell;
  for (const auto& run : manifest.at("runs")) {
    auto mode = mode_from_key(run.at("mode").get<std::string>());
    if (!mode) continue;
    Cell cell{run.at("rw").get<std::string>(), run.at("bytes").get<std::uint64_t>(), *mode};
    auto& slot = by_cell[cell.key()];
    slot.cell = cell;
    std::string error = run.value("error", std::string{});
    if (error.empty()) {
      try {
        slot.reps.push_back(parse_fio_json(read_file(out / run.at("fio_json").get<std::string>())));
        if (auto daemon = run.find("daemon_json"); daemon != run.end()) {
          auto copies = copies_per_write_byte(read_file(out / daemon->get<std::string>()));
          if (copies) slot.copies.push_back(*copies);
        }
      } catch (const FioParseError& e) {
        error = e.what();
      }
    }
    if (!error.empty()) {
      // A mode the kernel lacks is n/a with its reason, not a failed run.
      if (!run.value("unsupported", false)) errors.push_back(run.at("id").get<std::string>() + ": " + error);
      slot.error = error;
    }
  }
  Results results;
  for (const auto& cell : all_cells()) {
    auto& slot = by_cell[cell.key()];
    std::string error = slot.reps.empty() ? (slot.error.empty() ? std::string(kNotRun) : slot.error) : "";
    results.add(summarize(slot.cell, std::move(slot.reps), error, slot.copies));
  }
  return results;
}

void write_outputs(const Report& report, const fs::path& out, const std::string& text) {
  write_file(out / "report.txt", text);
  write_file(out / "results.csv", results_csv(report.results));
  write_file(out / "results.json", report_json(report).dump(2) + "\n");
  auto data = out / "latency.dat";
  auto png = out / "latency.png";
  write_file(data, plot_data(report.results));
  write_file(out / "latency.gp", plot_script(report, data.string(), png.string()));
  fs::remove(png);
  if (find_in_path("gnuplot").empty()) {
    std::fprintf(stderr, "memcpy_vs_getdata: gnuplot is missing (apt-get install gnuplot-nox); no plot\n");
    return;
  }
  ChildProcess gnuplot(ChildSpec({"gnuplot", (out / "latency.gp").string()})
                           .stdout_to((out / "gnuplot.log").string())
                           .stderr_to((out / "gnuplot.log").string()));
  gnuplot.wait_for(60s);
  if (!fs::exists(png)) {
    std::fprintf(stderr, "memcpy_vs_getdata: gnuplot made no plot: %s\n",
                 last_line_of((out / "gnuplot.log").string()).c_str());
  }
}

// A new folder for this run under --out, named by the time it started, and OUT/latest pointing
// at it: earlier runs are never touched.
fs::path new_run_dir(const fs::path& out) {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &local);
  fs::path dir = out / stamp;
  for (int n = 2; fs::exists(dir); ++n) dir = out / (std::string(stamp) + "-" + std::to_string(n));
  fs::create_directories(dir);
  const fs::path latest = out / "latest";
  const fs::path staged = out / ".latest.new";
  fs::remove(staged);
  fs::create_directory_symlink(dir.filename(), staged);
  fs::rename(staged, latest);  // atomic: a reader sees the old run or the new one
  return dir;
}

// --report-only's folder: --out itself when it holds a run, else OUT/latest.
fs::path reported_run_dir(const fs::path& out) {
  if (fs::exists(out / kManifestName)) return out;
  return out / "latest";
}

// Reads OUT's manifest and raw results, prints the report and writes its files. Returns 3 when
// some runs failed, else 0.
int render(const fs::path& out, bool native, const std::optional<CostModel>& cost_model,
           const Settings& fallback) {
  auto manifest = nlohmann::json::parse(read_file(out / kManifestName));
  if (manifest.contains("fatal")) throw SetupError(manifest["fatal"].get<std::string>());

  Report report;
  report.cost_model = cost_model;
  report.env.date = manifest.value("date", std::string("unknown"));
  report.env.dry_run = manifest.value("dry_run", false);
  report.env.native = native || manifest.value("vm_kernel", std::string{}) == "native";
  report.env.kernel = manifest.value("kernel", std::string("unknown"));
  report.settings = fallback;
  if (auto s = manifest.find("settings"); s != manifest.end()) {
    report.settings = {s->at("reps").get<unsigned>(), s->at("runtime_s").get<double>(),
                       s->at("ramp_s").get<double>(), s->at("max_io").get<std::string>()};
  }
  std::vector<std::string> errors;
  report.results = read_results(manifest, out, errors);

  auto ranges = recommend(report.results);
  std::string where = report.env.dry_run ? "dry run" : report.env.native ? "native" : "VM under TCG";
  std::string text = header_text(report) + "\n" + table2_text(report.results) + "\n" +
                     table1_text(report.results) + "\n" + copies_text(report.results) +
                     model_text(report) + "\n" + "Recommendation (" + where +
                     ", by Table 2's p50; plain copy is the floor when the target never keeps the "
                     "data): " + format_recommendation(ranges) + "\n";
  write_outputs(report, out, text);
  std::fputs(text.c_str(), stdout);
  std::printf("\nPlot: %s\nCSV:  %s\nJSON: %s\n", (out / "latency.png").c_str(),
              (out / "results.csv").c_str(), (out / "results.json").c_str());
  std::fflush(stdout);
  if (!errors.empty()) {
    std::fprintf(stderr, "memcpy_vs_getdata: %zu runs failed; first: %s\n", errors.size(), errors.front().c_str());
    return 3;
  }
  return 0;
}

}  // namespace

int run_host(Options o) {
  auto started = Clock::now();
  try {
    if (o.report_only) {
      if (o.out_dir.empty()) o.out_dir = (exe_dir().parent_path() / "bench-results/memcpy_vs_getdata").string();
      fs::path out = reported_run_dir(o.out_dir);
      if (!fs::exists(out / kManifestName)) throw SetupError("no " + std::string(kManifestName) + " in " + out.string() + ": nothing to report");
      std::optional<CostModel> cost_model;
      if (fs::exists(out / "cost_model.json")) {
        try {
          cost_model = parse_cost_model_json(read_file(out / "cost_model.json"));
        } catch (const CostModelError&) {
        }
      }
      return render(out, false, cost_model, {o.reps, o.runtime_s.value_or(0), o.ramp_s, o.max_io});
    }
    if (find_in_path("fio").empty()) {
      throw SetupError("fio not found in PATH: install it (apt-get install fio, or scripts/setup.sh)");
    }
    if (o.daemon.empty()) o.daemon = (exe_dir() / "ublk-pool-null").string();
    if (o.out_dir.empty()) o.out_dir = (exe_dir().parent_path() / "bench-results/memcpy_vs_getdata").string();
    o.daemon = fs::absolute(o.daemon).string();
    if (!o.fio_file.empty()) o.fio_file = fs::absolute(o.fio_file).string();
    // Everything is checked before anything under --out is touched.
    Plan plan = make_plan(o);
    if (fs::exists(o.out_dir) && !fs::is_directory(o.out_dir)) throw SetupError("--out " + o.out_dir + " is not a directory");
    fs::create_directories(o.out_dir);
    const fs::path out = new_run_dir(fs::canonical(o.out_dir));
    o.out_dir = out.string();
    std::fprintf(stderr,
                 "memcpy_vs_getdata: %zu runs (%zu cells x %u reps), fio %.1f s + %.1f s ramp each, "
                 "%s; about %s in total. Results in %s\n",
                 plan.runs, plan.runs / o.reps, o.reps, plan.runtime_s, o.ramp_s,
                 (plan.dry ? "DRY RUN on " + o.fio_file : plan.native ? "native ublk" : "qemu VM, kernel " + o.kernel).c_str(),
                 format_duration(std::chrono::seconds(static_cast<long>(plan.estimate_s))).c_str(),
                 o.out_dir.c_str());

    auto cost_model = run_cost_model(o, out);
    if (int sig = stop_signal()) return 128 + sig;

    int rc;
    if (plan.native || plan.dry) {
      rc = run_inner({o.out_dir, o.reps, plan.runtime_s, o.ramp_s, o.max_io, o.start_timeout_s,
                      o.daemon, o.fio_file, o.only, o.modes});
    } else {
      rc = run_in_vm(o, plan);
      // Under a loaded host, TCG sometimes fails the kernel's early timer check: boot again once.
      if (rc == kVmSkipped && !fs::exists(out / kManifestName) && !stop_signal()) {
        std::fprintf(stderr, "memcpy_vs_getdata: booting the VM once more\n");
        rc = run_in_vm(o, plan);
      }
    }
    if (rc > 128 || stop_signal()) return rc > 128 ? rc : 128 + stop_signal();
    if (!fs::exists(out / kManifestName)) {
      throw SetupError("the inner side left no results (exit " + std::to_string(rc) + ")");
    }
    int report_rc = render(out, plan.native, cost_model, {o.reps, plan.runtime_s, o.ramp_s, o.max_io});
    std::fprintf(stderr, "memcpy_vs_getdata: done in %s\n", format_duration(Clock::now() - started).c_str());
    return report_rc ? report_rc : rc;
  } catch (const SetupError& e) {
    std::fprintf(stderr, "memcpy_vs_getdata: %s\n", e.what());
    return 1;
  } catch (const std::system_error& e) {
    std::fprintf(stderr, "memcpy_vs_getdata: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "memcpy_vs_getdata: %s\n", e.what());
    return 1;
  }
}

}  // namespace mvg
