#include "inner_side.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <thread>

#include "child_process.hpp"
#include "clock_text.hpp"
#include "hugetlb_file.hpp"
#include "mvg/plan.hpp"
#include "stop_request.hpp"
#include "ublk/control.hpp"
#include "ublk/features.hpp"

namespace mvg {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kFioStopGrace = 3s;
constexpr auto kDaemonStopGrace = 30s;  // STOP_DEV and DEL_DEV under TCG take a while
constexpr auto kDeviceGoneTimeout = 10s;

struct RunOutcome {
  RunOutcome() = default;
  RunOutcome(std::string why, bool is_fatal = false) : error(std::move(why)), fatal(is_fatal) {}

  std::string error;  // the run has no figures
  bool fatal = false; // the bench must stop: something may be left behind
  bool unsupported = false;  // the kernel lacks the mode: not a failure
  std::string device;
  // Where the time went, for the budget's overhead estimates.
  double start_s = 0;
  double fio_s = 0;
  double stop_s = 0;
};

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string kernel_release() {
  utsname u{};
  return uname(&u) == 0 ? u.release : "unknown";
}

std::string milliseconds(double seconds) {
  return std::to_string(static_cast<long>(seconds * 1000 + 0.5)) + "ms";
}

// One line from the daemon's stdout: its device, once live. Empty on failure, with `why` set.
std::string read_device_line(ChildProcess& daemon, std::chrono::milliseconds timeout,
                             std::string& why) {
  std::string line;
  auto deadline = Clock::now() + timeout;
  while (true) {
    if (stop_signal()) {
      why = "stopped";
      return {};
    }
    if (Clock::now() >= deadline) {
      why = "no device after " + std::to_string(timeout.count() / 1000) + " s";
      return {};
    }
    pollfd pfd{daemon.stdout_fd(), POLLIN, 0};
    int ready = poll(&pfd, 1, 100);
    if (ready <= 0) continue;
    char ch;
    ssize_t n = read(daemon.stdout_fd(), &ch, 1);
    if (n == 1) {
      if (ch == '\n') return line;
      line += ch;
    } else if (n == 0) {
      daemon.wait_for(2s);
      why = daemon.status() ? describe_status(*daemon.status()) : "closed its stdout";
      return {};
    }
  }
}

std::string drain(int fd, Clock::time_point deadline) {
  std::string out;
  char buf[4096];
  while (Clock::now() < deadline) {
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, 100) <= 0) continue;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

bool wait_gone(const std::string& path, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (fs::exists(path)) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

// Why this kernel cannot run the shared-memory mode, or empty when it can.
std::string shared_memory_unsupported() {
  try {
    ublk::Control control;
    const auto bit = ublk::feature_bit("SHMEM_ZC");
    if (bit && control.features().features.has(std::uint64_t{1} << *bit)) return {};
    return "kernel " + kernel_release() + " lacks UBLK_F_SHMEM_ZC (Linux 7.1+)";
  } catch (const std::exception& e) {
    return std::string("cannot ask the kernel for UBLK_F_SHMEM_ZC: ") + e.what();
  }
}

bool wait_present(const std::string& path, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!fs::exists(path)) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

class InnerBench {
 public:
  explicit InnerBench(const InnerConfig& c) : c_(c), raw_(fs::path(c.out_dir) / "raw") {}

  int run() {
    fs::create_directories(raw_);
    manifest_ = {{"kernel", kernel_release()},
                 {"vm_kernel", getenv("UBLK_VM_KERNEL") ? getenv("UBLK_VM_KERNEL") : ""},
                 {"dry_run", !c_.fio_file.empty()},
                 {"date", utc_now()},
                 {"settings", {{"reps", c_.reps}, {"runtime_s", c_.runtime_s}, {"ramp_s", c_.ramp_s},
                               {"max_io", c_.max_io}}},
                 {"runs", nlohmann::json::array()}};
    const auto cells = selected_cells(c_.only, c_.modes);
    prepare_shared_memory(cells);
    auto runs = interleaved_runs(cells, c_.reps);
    auto start = Clock::now();
    int failed = 0;
    for (std::size_t k = 0; k < runs.size(); ++k) {
      const auto& run = runs[k];
      progress(k, runs.size(), run, Clock::now() - start);
      auto t0 = Clock::now();
      RunOutcome outcome;
      auto failed_mode = failed_modes_.find(run.cell.mode);
      auto unsupported = unsupported_modes_.find(run.cell.mode);
      if (unsupported != unsupported_modes_.end()) {
        outcome.error = unsupported->second;
        outcome.unsupported = true;
      } else if (failed_mode != failed_modes_.end()) {
        outcome.error = "skipped: " + failed_mode->second;
      } else {
        outcome = run_one(run);
      }
      if (!outcome.error.empty() && !outcome.unsupported) ++failed;
      record(run, outcome, std::chrono::duration<double>(Clock::now() - t0).count());
      if (outcome.fatal) {
        manifest_["fatal"] = outcome.error;
        save();
        std::fprintf(stderr, "memcpy_vs_getdata: %s\n", outcome.error.c_str());
        return 1;
      }
      if (int sig = stop_signal()) {
        manifest_["interrupted"] = sig;
        save();
        std::fprintf(stderr, "memcpy_vs_getdata: stopped by signal %d; daemon and device cleaned up\n", sig);
        return 128 + sig;
      }
    }
    save();
    // What each run cost beyond fio's own time: the figure --budget has to assume.
    double overhead = std::max(0.0, std::chrono::duration<double>(Clock::now() - start).count() /
                                            static_cast<double>(runs.size()) - c_.runtime_s - c_.ramp_s);
    std::fprintf(stderr, "memcpy_vs_getdata: %zu runs in %s, %.1f s per run beyond fio's time%s\n",
                 runs.size(), format_duration(Clock::now() - start).c_str(), overhead,
                 failed ? (", " + std::to_string(failed) + " failed").c_str() : "");
    return failed ? 3 : 0;
  }

 private:
  std::string id(const Run& run) const {
    return "r" + std::to_string(run.rep + 1) + "-" + run.cell.key();
  }

  void progress(std::size_t k, std::size_t n, const Run& run, Clock::duration elapsed) const {
    std::string eta = "ETA unknown";
    if (k > 0) eta = "ETA " + format_duration(elapsed / k * (n - k));
    std::fprintf(stderr, "memcpy_vs_getdata: cell %zu of %zu: %s %s %s, rep %u/%u; elapsed %s, %s\n",
                 k + 1, n, run.cell.rw.c_str(), format_block_size(run.cell.block_size).c_str(),
                 std::string(info(run.cell.mode).label).c_str(), run.rep + 1, c_.reps,
                 format_duration(elapsed).c_str(), eta.c_str());
  }

  // The hugetlbfs file of the shared-memory mode, where the kernel has it and a cell wants it.
  void prepare_shared_memory(const std::vector<Cell>& cells) {
    const bool wanted = std::any_of(cells.begin(), cells.end(),
                                    [](const Cell& c) { return info(c.mode).shared_memory; });
    if (!wanted || !c_.fio_file.empty()) return;
    if (auto why = shared_memory_unsupported(); !why.empty()) {
      unsupported_modes_[Mode::ShmemZc] = why;
      return;
    }
    try {
      shared_.emplace(fs::path(c_.out_dir) / "hugetlbfs");
    } catch (const std::exception& e) {
      failed_modes_[Mode::ShmemZc] = e.what();
    }
  }

  std::vector<std::string> fio_argv(const Run& run, const std::string& device) const {
    std::vector<std::string> argv{
        "fio", "--name=mvg", "--filename=" + device, "--direct=1", "--ioengine=libaio",
        "--iodepth=1", "--numjobs=1", "--group_reporting=1", "--rw=" + run.cell.rw,
        "--bs=" + std::to_string(run.cell.block_size), "--time_based=1",
        "--runtime=" + milliseconds(c_.runtime_s), "--lat_percentiles=1", "--randrepeat=0",
        "--norandommap=1", "--output-format=json"};
    if (c_.ramp_s > 0) argv.push_back("--ramp_time=" + milliseconds(c_.ramp_s));
    if (!c_.fio_file.empty()) argv.push_back("--size=256M");
    if (info(run.cell.mode).shared_memory && shared_) argv.push_back("--mem=mmaphuge:" + shared_->path());
    return argv;
  }

  RunOutcome run_one(const Run& run) {
    auto base = (raw_ / id(run)).string();
    if (!c_.fio_file.empty()) return run_fio(run, c_.fio_file, base);

    std::vector<std::string> argv{c_.daemon};
    const auto& mode_args = info(run.cell.mode).daemon_args;
    argv.insert(argv.end(), mode_args.begin(), mode_args.end());
    if (info(run.cell.mode).shared_memory && shared_) {
      try {
        shared_->fresh_file();
      } catch (const HugetlbError& e) {
        return {e.what()};
      }
      argv.insert(argv.end(), {"--shmem-file", shared_->path()});
    }
    argv.insert(argv.end(), {"--queues", "1", "--depth", "16", "--max-io", c_.max_io, "--json"});
    std::optional<ChildProcess> daemon;
    try {
      daemon.emplace(ChildSpec(argv).stdout_pipe().stderr_to(base + ".daemon.err"));
    } catch (const std::system_error& e) {
      return {"daemon failed to start: " + std::string(e.what()), true};
    }
    std::string why;
    auto timeout = std::chrono::milliseconds(static_cast<long>(c_.start_timeout_s * 1000));
    auto t0 = Clock::now();
    std::string device = read_device_line(*daemon, timeout, why);
    double start_s = seconds_since(t0);
    RunOutcome outcome;
    if (device.empty()) {
      auto reason = last_line_of(base + ".daemon.err");
      outcome.error = "ublk-pool-null " + std::string(info(run.cell.mode).label) +
                      " failed to start (" + why + ")" + (reason.empty() ? "" : ": " + reason);
      if (why != "stopped") failed_modes_[run.cell.mode] = outcome.error;
    } else if (!device.starts_with("/dev/ublkb")) {
      outcome.error = "ublk-pool-null printed '" + device + "', not a /dev/ublkbN line";
    } else if (!wait_present(device, 10s)) {
      outcome.error = device + " never appeared";
    } else {
      auto t1 = Clock::now();
      outcome = run_fio(run, device, base);
      outcome.fio_s = seconds_since(t1);
      outcome.device = device;
    }
    outcome.start_s = start_s;
    auto t2 = Clock::now();
    auto stopped = stop_daemon(*daemon, base, device);
    outcome.stop_s = seconds_since(t2);
    if (!stopped.error.empty()) {
      outcome.fatal = outcome.fatal || stopped.fatal;
      outcome.error = outcome.error.empty() ? stopped.error : outcome.error + "; " + stopped.error;
    }
    return outcome;
  }

  RunOutcome run_fio(const Run& run, const std::string& device, const std::string& base) {
    std::optional<ChildProcess> fio;
    try {
      fio.emplace(ChildSpec(fio_argv(run, device)).stdout_to(base + ".fio.json").stderr_to(base + ".fio.err"));
    } catch (const std::system_error& e) {
      return {std::string(e.what()), true};
    }
    while (!fio->wait_for(100ms)) {
      if (stop_signal()) {
        fio->terminate(kFioStopGrace);
        return {"stopped"};
      }
    }
    int st = *fio->status();
    if (st != 0) {
      auto reason = last_line_of(base + ".fio.err");
      return {"fio failed (" + describe_status(st) + ")" + (reason.empty() ? "" : ": " + reason)};
    }
    return {};
  }

  RunOutcome stop_daemon(ChildProcess& daemon, const std::string& base, const std::string& device) {
    daemon.signal(SIGTERM);
    auto stats = drain(daemon.stdout_fd(), Clock::now() + kDaemonStopGrace);
    std::ofstream(base + ".daemon.json") << stats;
    RunOutcome outcome;
    if (!daemon.wait_for(5s)) {
      daemon.terminate(1s);
      outcome = {"ublk-pool-null did not stop within " +
                     std::to_string(kDaemonStopGrace.count() + 5) + " s of SIGTERM; killed",
                 true};
    } else if (*daemon.status() != 0 && !device.empty()) {
      auto reason = last_line_of(base + ".daemon.err");
      outcome.error = "ublk-pool-null ended with " + describe_status(*daemon.status()) +
                      (reason.empty() ? "" : ": " + reason);
    }
    if (device.starts_with("/dev/ublkb") && !wait_gone(device, kDeviceGoneTimeout)) {
      outcome.error += (outcome.error.empty() ? "" : "; ") + device + " still exists after the daemon stopped";
      outcome.fatal = true;
    }
    return outcome;
  }

  void record(const Run& run, const RunOutcome& outcome, double seconds) {
    nlohmann::json entry = {{"id", id(run)},
                            {"rw", run.cell.rw},
                            {"bytes", run.cell.block_size},
                            {"mode", info(run.cell.mode).key},
                            {"rep", run.rep + 1},
                            {"seconds", seconds},
                            {"fio_json", "raw/" + id(run) + ".fio.json"}};
    if (!outcome.device.empty()) {
      entry["device"] = outcome.device;
      entry["daemon_json"] = "raw/" + id(run) + ".daemon.json";
      entry["phases_s"] = {{"start", outcome.start_s}, {"fio", outcome.fio_s}, {"stop", outcome.stop_s}};
    }
    if (!outcome.error.empty()) entry["error"] = outcome.error;
    if (outcome.unsupported) entry["unsupported"] = true;
    manifest_["runs"].push_back(entry);
    save();
  }

  void save() const {
    auto path = fs::path(c_.out_dir) / kManifestName;
    auto tmp = path.string() + ".tmp";
    std::ofstream(tmp) << manifest_.dump(1) << "\n";
    fs::rename(tmp, path);
  }

  const InnerConfig& c_;
  fs::path raw_;
  nlohmann::json manifest_;
  std::map<Mode, std::string> failed_modes_;
  std::map<Mode, std::string> unsupported_modes_;  // the kernel lacks them: n/a, not failed
  std::optional<HugetlbFile> shared_;
};

}  // namespace

int run_inner(const InnerConfig& config) { return InnerBench(config).run(); }

std::vector<Cell> selected_cells(const std::string& only, const std::string& modes) {
  std::vector<Cell> cells;
  const std::string listed = "," + modes + ",";
  for (const auto& c : all_cells()) {
    const bool mode_ok = modes.empty() || listed.find("," + std::string(info(c.mode).key) + ",") != std::string::npos;
    if (mode_ok && c.key().find(only) != std::string::npos) cells.push_back(c);
  }
  return cells;
}

}  // namespace mvg
