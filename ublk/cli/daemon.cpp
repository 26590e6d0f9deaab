#include "daemon.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "cli/program.hpp"
#include "app_copy_target.hpp"
#include "poisoning_provider.hpp"
#include "nbd_setup.hpp"
#include "providers.hpp"
#include "stale_device.hpp"
#include "report.hpp"
#include "shmem_server.hpp"
#include "stats_server.hpp"
#include "takeover.hpp"
#include "ublk/control.hpp"
#include "ublk/device.hpp"
#include "ublk/mapping.hpp"
#include "ublk/unique_fd.hpp"
#include "ublk/recovery.hpp"
#include "target_table.hpp"

namespace ublk::cli {

namespace {

// SIGINT/SIGTERM (stop) and SIGHUP (reopen the log) are blocked in every thread (the queue
// threads inherit the mask) and read by the main thread from a signalfd.
sigset_t block_daemon_signals() {
  sigset_t set;
  sigemptyset(&set);
  // A background job of a non-interactive shell starts with SIGINT ignored; a signalfd needs the
  // default disposition.
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  ::signal(SIGHUP, SIG_DFL);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// The daemon's messages: stderr, or --log FILE put in its place (so that the libraries' own
// lines go there too), at the --quiet / --verbose level.
class Log {
 public:
  Log(std::string program, const DaemonOptions& options)
      : program_(std::move(program)), file_(options.log_file), level_(options.verbosity) {}
  // Points stderr at the log file again: after logrotate moved it, on SIGHUP.
  [[nodiscard]] bool reopen(std::string& error) const {
    if (file_.empty()) return true;
    const int fd = ::open(file_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || ::dup2(fd, STDERR_FILENO) < 0) {
      error = "cannot open the log " + file_ + ": " + std::strerror(errno);
      if (fd >= 0) ::close(fd);
      return false;
    }
    ::close(fd);
    return true;
  }
  void error(const std::string& line) const { write(line); }
  void info(const std::string& line) const {
    if (level_ != Verbosity::kQuiet) write(line);
  }
  void verbose(const std::string& line) const {
    if (level_ == Verbosity::kVerbose) write(line);
  }
  [[nodiscard]] bool quiet() const noexcept { return level_ == Verbosity::kQuiet; }

 private:
  void write(const std::string& line) const { std::fprintf(stderr, "%s: %s\n", program_.c_str(), line.c_str()); }
  std::string program_;
  std::string file_;
  Verbosity level_;
};

// Buffers the mem target may keep instead of copying: 256 MiB of a pool without a byte limit.
// A limited pool keeps all of its buffers for the requests in flight (held ones would make
// requests wait, or fail, under --pool-limit).
std::uint64_t hold_budget(const pool::BufferProvider& provider) {
  constexpr std::uint64_t kUnlimitedPoolHold = std::uint64_t{256} << 20;
  const auto stats = provider.stats();
  if (stats && stats->bytes_limit) return 0;
  return kUnlimitedPoolHold;
}

std::unique_ptr<Target> make_target(DaemonKind kind, const DaemonOptions& options,
                                    const pool::BufferProvider& provider) {
  TargetParams params;
  params.size_bytes = options.size;
  params.recoverable = options.recovery != RecoveryPolicy::kNone;
  params.take_over = options.recover.has_value();
  params.no_data = options.no_data;
  params.async = options.async;
  params.hold_bytes = options.app_copy ? 0 : hold_budget(provider);
  params.file = options.file;
  params.size_given = options.size_given || options.recover.has_value();
  params.logical_block = options.logical_block_given || options.recover ? options.logical_block : 0;
  params.buffered = options.buffered;
  params.queues = options.queues;
  params.depth = options.depth;
  const char* name = kind == DaemonKind::kMem ? "mem" : kind == DaemonKind::kLoop ? "loop" : "null";
  return find_target(name)->make(params);
}

// A backend that decides the device's shape (a file's size, an export's block size and its
// server's limits) overrides the daemon's defaults.
void take_target_shape(const TargetTraits& traits, DaemonOptions& options) {
  if (traits.size_bytes) options.size = traits.size_bytes;
  if (traits.logical_block) options.logical_block = traits.logical_block;
  if (traits.max_queues) options.queues = std::min(options.queues, traits.max_queues);
  if (traits.max_io_bytes) options.max_io = std::min(options.max_io, traits.max_io_bytes);
}

// --shmem-file: the whole file, shared and populated (hugetlbfs pages are reserved here, so an
// empty hugetlb pool fails now, not by SIGBUS later).
Mapping map_shared_file(const std::string& path) {
  const UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd) throw std::system_error(errno, std::generic_category(), "--shmem-file " + path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw std::system_error(errno, std::generic_category(), "--shmem-file " + path);
  if (st.st_size <= 0) throw std::runtime_error("--shmem-file " + path + " is empty: give it the size of the shared memory");
  return Mapping::map(static_cast<std::size_t>(st.st_size), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                      fd.get(), 0, ("--shmem-file " + path).c_str());
}

// The library names its API's fields; the user typed flags.
std::string in_flag_terms(std::string message) {
  static constexpr std::pair<std::string_view, std::string_view> kFlags[] = {
      {"DeviceConfig::queues", "--queues"},           {"DeviceConfig::depth", "--depth"},
      {"DeviceConfig::max_io_bytes", "--max-io"},     {"DeviceConfig::size_bytes", "--size"},
      {"DeviceConfig::logical_block", "--logical-block"}, {"DeviceConfig::recovery", "--recovery"},
      {"DeviceConfig::take_over", "--recover"},       {"DeviceConfig::mode", "--mode"},
      {"DeviceConfig::id", "--id"},                   {"Mode::kAuto", "auto"},
      {"DeviceConfig::shared_memory_clients", "--shmem"}, {"DeviceConfig::shared_memory", "--shmem-file"},
      {"Mode::kZeroCopy", "zero_copy"},
      {"DeviceConfig::io_timeout", "--io-timeout"},
  };
  for (const auto& [field, flag] : kFlags) {
    for (auto at = message.find(field); at != std::string::npos; at = message.find(field, at + flag.size())) {
      message.replace(at, field.size(), flag);
    }
  }
  return message;
}

}  // namespace

int run_daemon(int argc, char** argv, DaemonKind kind) {
  prepare_adapter_plugins(argv);
  const std::string prog = ::cli::program_name(argv[0], "ublk-pool");
  std::vector<std::string_view> args(argv + 1, argv + argc);
  auto parsed = parse_daemon_options(args, kind);
  if (auto* error = std::get_if<ParseError>(&parsed)) {
    std::fprintf(stderr, "%s: %s\n", prog.c_str(), error->message.c_str());
    return 2;
  }
  DaemonOptions& options = std::get<DaemonOptions>(parsed);
  if (options.help) {
    std::fputs(daemon_usage(prog, kind).c_str(), stdout);
    return 0;
  }
  if (options.version) {
    std::printf("%s\n", ::cli::version_line(prog).c_str());
    return 0;
  }
  // The arguments are checked before the kernel is asked anything: a bad --provider or
  // --provider-lib is a usage error on any host, with or without ublk.
  if (auto known = known_providers(options); !known.error.empty()) {
    std::fprintf(stderr, "%s: %s\n", prog.c_str(), known.error.c_str());
    return 2;
  } else if (options.list_providers) {
    for (const auto& name : known.names) std::printf("%s\n", name.c_str());
    return 0;
  }
  const sigset_t signals = block_daemon_signals();
  const Log log(prog, options);
  if (std::string error; !log.reopen(error)) {
    std::fprintf(stderr, "%s: %s\n", prog.c_str(), error.c_str());
    return 1;
  }
  UniqueFd signal_fd(::signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signal_fd) {
    log.error(std::string("signalfd: ") + std::strerror(errno));
    return 1;
  }

  try {
    Control control;
    const KernelFeatures& kf = control.features();
    // A service restarted after a crash finds its device waiting; the first start finds none.
    if (options.recover_or_create && control.device_info(static_cast<unsigned>(options.id))) {
      options.recover = static_cast<unsigned>(options.id);
    }
    if (options.recover) {
      const RecoverableDevice dev = inspect_for_recovery(control, *options.recover);
      if (auto conflict = takeover_conflict(options, dev, kind)) {
        log.error(*conflict);
        return 2;
      }
      adopt_device_shape(dev, options);
      log.info("taking over device " + std::to_string(dev.id) + " (old pid " + std::to_string(dev.old_pid) +
               ", policy " + std::string(to_string(dev.policy)) + ")");
    } else if (auto refusal = check_recovery_support(options.recovery, kf.features)) {
      log.error(*refusal);
      return 1;
    }
    ProviderChoice provider = make_provider(options);
    if (!provider.provider) {
      log.error(provider.error);
      return 2;
    }
    // Made before the target: buffers the target still holds go back through it.
    std::optional<PoisoningProvider> poisoning;
    if (options.poison) poisoning.emplace(*provider.provider);
    pool::BufferProvider& device_provider = poisoning ? static_cast<pool::BufferProvider&>(*poisoning)
                                                      : *provider.provider;
    // ublk-pool-nbd: the export decides the device's shape, so the target comes first.
    auto target = kind == DaemonKind::kNbd ? make_nbd_target(options, prog)
                                           : make_target(kind, options, *provider.provider);
    // After the target: whether zero_copy is possible is the target's to say.
    const ZeroCopyTarget zero_copy = target->traits().zero_copy && !options.app_copy ? ZeroCopyTarget::kYes
                                                                                      : ZeroCopyTarget::kNo;
    auto decision = choose_mode(options.mode, kf.features, zero_copy);
    if (auto* refusal = std::get_if<ModeRefusal>(&decision)) {
      log.error(refusal->message);
      return 1;
    }
    ModeChoice& choice = std::get<ModeChoice>(decision);
    if (options.recover) choice.reason = "the mode device " + std::to_string(*options.recover) + " was created with";
    log.info("mode " + std::string(to_string(choice.mode)) + ": " + choice.reason);
    if (const std::string line = target->describe(); !line.empty()) log.info(line);
    if (options.recover) {
      if (auto conflict = backend_shape_conflict(target->traits(), options)) {
        log.error(*conflict);
        return 1;
      }
    }
    take_target_shape(target->traits(), options);

    DeviceConfig config;
    config.id = options.id;
    config.queues = options.queues;
    config.depth = options.depth;
    config.size_bytes = options.size;
    config.max_io_bytes = options.max_io;
    config.logical_block = options.logical_block;
    config.mode = choice.mode;
    config.on_exhaustion = options.on_exhaustion;
    config.recovery = options.recovery;
    config.take_over = options.recover.has_value();
    config.shared_memory_clients = options.shmem;
    config.io_timeout = std::chrono::seconds(options.io_timeout_s);

    if (!options.recover && options.id >= 0) {
      if (auto dead_pid = reclaim_device_id(control, static_cast<unsigned>(options.id))) {
        log.info("removed device " + std::to_string(options.id) + " left by dead daemon pid " +
                 std::to_string(*dead_pid));
      }
    }
    // The application's side maps the same file MAP_SHARED; ours must outlive the device.
    Mapping shared_memory;
    if (!options.shmem_file.empty()) {
      shared_memory = map_shared_file(options.shmem_file);
      config.shared_memory.emplace_back(shared_memory.bytes(), shared_memory.size());
    }
    // The test aids wrap the provider and the target; the library never sees them.
    std::optional<AppCopyTarget> app_copy;
    if (options.app_copy) app_copy.emplace(*target, options.queues, options.max_io);
    Target& device_target = app_copy ? static_cast<Target&>(*app_copy) : *target;
    Device device(control, config, device_provider, device_target);
    device.start();
    if (options.shmem || !options.shmem_file.empty()) {
      log.info(std::string("zero copy from shared memory (UBLK_F_SHMEM_ZC): IO from ") +
               (options.shmem_file.empty() ? "the clients' arenas" : options.shmem_file) +
               " is served in place; other IO goes the " + std::string(to_string(choice.mode)) + " way");
    }
    // Declared after the device: its arenas are unmapped only after the device let go of them.
    // Listening before the device line is printed: whoever reads that line can connect.
    std::optional<ShmemServer> shmem_server;
    // A state file under our device number is a dead daemon's (SIGKILL leaves it): not ours to show.
    if (!options.shmem) ::unlink(shmem_state_path(stats_dir(), device.id()).c_str());
    if (options.shmem) {
      const std::string dir = stats_dir();
      shmem_server.emplace(options.shmem_socket.empty() ? shmem_socket_path(dir, device.id()) : options.shmem_socket,
                           device, shmem_state_path(dir, device.id()), [&log](const std::string& line) { log.info(line); });
      log.info("shared-memory clients connect to " + shmem_server->path());
    }

    const auto live_since = std::chrono::steady_clock::now();
    log.info(device.block_path() + " " + (options.recover ? "recovered" : "live") + ": " +
             std::to_string(options.queues) + " queue(s) x depth " + std::to_string(options.depth) + ", " +
             std::to_string(options.size) + " bytes, max IO " + std::to_string(options.max_io) + ", flags " +
             device.granted_flags().to_string());
    std::printf("%s\n", device.block_path().c_str());
    std::fflush(stdout);

    auto summary_of = [&](SummaryState state) {
      RunSummary summary;
      summary.state = state;
      summary.device = device.block_path();
      summary.target = std::string(target->name());
      summary.mode = choice.mode;
      summary.provider = options.provider;
      summary.app_copy = options.app_copy;
      summary.no_data = options.no_data;
      summary.shape = {static_cast<int>(device.id()), options.queues, options.depth, options.max_io, options.size,
                       options.logical_block, options.pool_steps, options.pool_limit};
      summary.kernel_features = kf.features.bits();
      summary.granted_flags = device.granted_flags().bits();
      summary.uptime_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - live_since).count();
      // Live: the queues' own counters (relaxed atomics), a moment old at worst.
      summary.queues = device.queue_stats();
      for (const IoStats& queue : summary.queues) summary.io.merge(queue);
      summary.pool = pool_figures(provider.provider->stats());
      for (const auto& counter : target->counters()) summary.target_counters.emplace_back(counter.name, counter.value);
      return summary;
    };

    std::optional<StatsServer> stats_server;
    try {
      stats_server.emplace(stats_socket_path(stats_dir(), device.id()));
      log.verbose("stats on " + stats_server->path());
    } catch (const std::exception& e) {
      log.error(std::string("no live stats: ") + e.what());
    }

    // Until SIGINT/SIGTERM: answer the stats socket, reopen the log on SIGHUP, and notice a
    // device stopped from outside (`ublk-pool del`): its DEL_DEV waits until this daemon closes
    // /dev/ublkcN.
    int signal = 0;
    std::optional<std::string> failure;
    while (signal == 0) {
      pollfd fds[3] = {{signal_fd.get(), POLLIN, 0},
                       {stats_server ? stats_server->fd() : -1, POLLIN, 0},
                       {shmem_server ? shmem_server->fd() : -1, POLLIN, 0}};
      if (::poll(fds, 3, 100) < 0 && errno != EINTR) {
        log.error(std::string("poll: ") + std::strerror(errno));
        break;
      }
      signalfd_siginfo info{};
      while (signal == 0 && ::read(signal_fd.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
        if (info.ssi_signo != SIGHUP) {
          signal = static_cast<int>(info.ssi_signo);
        } else if (std::string error; log.reopen(error)) {
          log.info("SIGHUP: log reopened");
        } else {
          log.error(error);
        }
      }
      if (stats_server && (fds[1].revents & POLLIN)) {
        const unsigned served = stats_server->serve([&] { return report_json(summary_of(SummaryState::kLive)); });
        if (served) log.verbose("stats served to " + std::to_string(served) + " client(s)");
      }
      if (shmem_server && (fds[2].revents & POLLIN)) shmem_server->serve();
      if (signal != 0) break;
      if ((failure = device.failure())) break;
      if (device.stopped_elsewhere()) break;
    }
    if (failure) {
      log.error(device.block_path() + " failed: " + *failure + "; removing it");
    } else if (signal > 0) {
      log.info("signal " + std::to_string(signal) + ": removing " + device.block_path());
    } else {
      log.info(device.block_path() + " was stopped from outside; cleaning up");
    }
    stats_server.reset();
    const std::error_code stop_error = device.stop();
    shmem_server.reset();  // the device is gone: the arenas are unmapped without waiting

    const RunSummary summary = summary_of(SummaryState::kFinal);
    if (!log.quiet()) std::fputs(report_text(summary).c_str(), stderr);
    if (options.json) {
      std::fputs(report_json(summary).c_str(), stdout);
      std::fflush(stdout);
    }
    return stop_error || failure ? 1 : 0;
  } catch (const std::exception& e) {
    log.error(in_flag_terms(e.what()));
    return 1;
  }
}

}  // namespace ublk::cli
