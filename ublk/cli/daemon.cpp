#include "daemon.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "providers.hpp"
#include "report.hpp"
#include "ublk/control.hpp"
#include "ublk/device.hpp"
#include "ublk/recovery.hpp"
#include "loop_target.hpp"
#include "target_table.hpp"

namespace ublk::cli {

namespace {

std::string program_name(const char* argv0) {
  std::string name = argv0 ? argv0 : "ublk-pool";
  if (auto slash = name.rfind('/'); slash != std::string::npos) name.erase(0, slash + 1);
  return name;
}

// SIGINT/SIGTERM are blocked in every thread (the queue threads inherit the mask) and taken
// synchronously by the main thread with sigwait.
sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  // A background job of a non-interactive shell starts with SIGINT ignored; sigwait needs the
  // default disposition.
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// Buffers the mem target may keep instead of copying: a quarter of a limited pool (the rest
// serves the requests in flight), else 256 MiB.
std::uint64_t hold_budget(const pool::BufferProvider& provider) {
  constexpr std::uint64_t kUnlimitedPoolHold = std::uint64_t{256} << 20;
  const auto stats = provider.stats();
  if (stats && stats->bytes_limit) return stats->bytes_limit / 4;
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

// --recover N: the device's own shape replaces the defaults.
void adopt_shape(const RecoverableDevice& dev, DaemonOptions& options) {
  options.id = static_cast<int>(dev.id);
  options.queues = dev.queues;
  options.depth = dev.depth;
  options.max_io = dev.max_io_bytes;
  options.size = dev.size_bytes;
  options.logical_block = dev.logical_block;
  options.mode = dev.mode;
  options.recovery = dev.policy;
}

}  // namespace

int run_daemon(int argc, char** argv, DaemonKind kind) {
  prepare_adapter_plugins(argv);
  const std::string prog = program_name(argv[0]);
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
  const sigset_t stop_signals = block_stop_signals();

  try {
    Control control;
    const KernelFeatures& kf = control.features();
    if (options.recover) {
      const RecoverableDevice dev = inspect_for_recovery(control, *options.recover);
      adopt_shape(dev, options);
      std::fprintf(stderr, "%s: taking over device %u (old pid %d, policy %s)\n", prog.c_str(), dev.id, dev.old_pid,
                   std::string(to_string(dev.policy)).c_str());
    } else if (auto refusal = check_recovery_support(options.recovery, kf.features)) {
      std::fprintf(stderr, "%s: %s\n", prog.c_str(), refusal->c_str());
      return 1;
    }
    ProviderChoice provider = make_provider(options);
    if (!provider.provider) {
      std::fprintf(stderr, "%s: %s\n", prog.c_str(), provider.error.c_str());
      return 2;
    }
    auto decision = choose_mode(options.mode, kf.features);
    if (auto* refusal = std::get_if<ModeRefusal>(&decision)) {
      std::fprintf(stderr, "%s: %s\n", prog.c_str(), refusal->message.c_str());
      return 1;
    }
    ModeChoice& choice = std::get<ModeChoice>(decision);
    if (options.recover) choice.reason = "the mode device " + std::to_string(*options.recover) + " was created with";
    std::fprintf(stderr, "%s: mode %s: %s\n", prog.c_str(), std::string(to_string(choice.mode)).c_str(),
                 choice.reason.c_str());

    auto target = make_target(kind, options, *provider.provider);
    if (const auto* loop = dynamic_cast<const LoopTarget*>(target.get())) {
      options.size = loop->size();
      options.logical_block = loop->logical_block();
      std::fprintf(stderr, "%s: %s\n", prog.c_str(), loop->description().c_str());
    }

    DeviceConfig config;
    config.id = options.id;
    config.queues = options.queues;
    config.depth = options.depth;
    config.size_bytes = options.size;
    config.max_io_bytes = options.max_io;
    config.logical_block = options.logical_block;
    config.mode = choice.mode;
    config.app_copy = options.app_copy;
    config.poison = options.poison;
    config.on_exhaustion = options.on_exhaustion;
    config.recovery = options.recovery;
    config.take_over = options.recover.has_value();

    Device device(control, config, *provider.provider, *target);
    device.start();
    std::fprintf(stderr, "%s: %s %s: %u queue(s) x depth %u, %llu bytes, max IO %u, flags %s\n", prog.c_str(),
                 device.block_path().c_str(), options.recover ? "recovered" : "live", options.queues, options.depth,
                 static_cast<unsigned long long>(options.size), options.max_io,
                 device.granted_flags().to_string().c_str());
    std::printf("%s\n", device.block_path().c_str());
    std::fflush(stdout);

    // Wait for SIGINT/SIGTERM, and notice a device stopped from outside (`ublk-pool del`):
    // its DEL_DEV waits until this daemon closes /dev/ublkcN.
    int signal = 0;
    const timespec poll{0, 100'000'000};
    while (signal <= 0) {
      signal = sigtimedwait(&stop_signals, nullptr, &poll);
      if (signal <= 0 && device.stopped_elsewhere()) break;
    }
    if (signal > 0) {
      std::fprintf(stderr, "%s: signal %d: removing %s\n", prog.c_str(), signal, device.block_path().c_str());
    } else {
      std::fprintf(stderr, "%s: %s was stopped from outside; cleaning up\n", prog.c_str(),
                   device.block_path().c_str());
    }
    const std::error_code stop_error = device.stop();

    RunSummary summary;
    summary.device = device.block_path();
    summary.target = std::string(target->name());
    summary.mode = choice.mode;
    summary.provider = options.provider;
    summary.app_copy = options.app_copy;
    summary.no_data = options.no_data;
    summary.io = device.stats();
    summary.provider_stats = provider.provider->stats();
    for (const auto& counter : target->counters()) summary.target_counters.emplace_back(counter.name, counter.value);
    std::fputs(report_text(summary).c_str(), stderr);
    if (options.json) {
      std::fputs(report_json(summary).c_str(), stdout);
      std::fflush(stdout);
    }
    return stop_error ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", prog.c_str(), e.what());
    return 1;
  }
}

}  // namespace ublk::cli
