#include "daemon.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "app_copy_target.hpp"
#include "poisoning_provider.hpp"
#include "providers.hpp"
#include "stale_device.hpp"
#include "report.hpp"
#include "ublk/control.hpp"
#include "ublk/device.hpp"
#include "ublk/recovery.hpp"
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
  return find_target(kind == DaemonKind::kMem ? "mem" : "null")->make(params);
}

// The library names its API's fields; the user typed flags.
std::string in_flag_terms(std::string message) {
  static constexpr std::pair<std::string_view, std::string_view> kFlags[] = {
      {"DeviceConfig::queues", "--queues"},           {"DeviceConfig::depth", "--depth"},
      {"DeviceConfig::max_io_bytes", "--max-io"},     {"DeviceConfig::size_bytes", "--size"},
      {"DeviceConfig::logical_block", "--logical-block"}, {"DeviceConfig::recovery", "--recovery"},
      {"DeviceConfig::take_over", "--recover"},       {"DeviceConfig::mode", "--mode"},
      {"DeviceConfig::id", "--id"},                   {"Mode::kAuto", "auto"},
  };
  for (const auto& [field, flag] : kFlags) {
    for (auto at = message.find(field); at != std::string::npos; at = message.find(field, at + flag.size())) {
      message.replace(at, field.size(), flag);
    }
  }
  return message;
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

    // Made before the target: buffers the target still holds go back through it.
    std::optional<PoisoningProvider> poisoning;
    if (options.poison) poisoning.emplace(*provider.provider);
    pool::BufferProvider& device_provider = poisoning ? static_cast<pool::BufferProvider&>(*poisoning)
                                                      : *provider.provider;
    auto target = make_target(kind, options, *provider.provider);

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

    if (!options.recover && options.id >= 0) {
      if (auto dead_pid = reclaim_device_id(control, static_cast<unsigned>(options.id))) {
        std::fprintf(stderr, "%s: removed device %d left by dead daemon pid %d\n", prog.c_str(), options.id,
                     *dead_pid);
      }
    }
    // The test aids wrap the provider and the target; the library never sees them.
    std::optional<AppCopyTarget> app_copy;
    if (options.app_copy) app_copy.emplace(*target, options.queues, options.max_io);
    Target& device_target = app_copy ? static_cast<Target&>(*app_copy) : *target;
    Device device(control, config, device_provider, device_target);
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
    std::optional<std::string> failure;
    const timespec poll{0, 100'000'000};
    while (signal <= 0) {
      signal = sigtimedwait(&stop_signals, nullptr, &poll);
      if (signal > 0) break;
      if ((failure = device.failure())) break;
      if (device.stopped_elsewhere()) break;
    }
    if (failure) {
      std::fprintf(stderr, "%s: %s failed: %s; removing it\n", prog.c_str(), device.block_path().c_str(),
                   failure->c_str());
    } else if (signal > 0) {
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
    std::fputs(report_text(summary).c_str(), stderr);
    if (options.json) {
      std::fputs(report_json(summary).c_str(), stdout);
      std::fflush(stdout);
    }
    return stop_error || failure ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", prog.c_str(), in_flag_terms(e.what()).c_str());
    return 1;
  }
}

}  // namespace ublk::cli
