// ublk-adopt-example: "link libpool into an app and register an allocator".
//
// An app with its own message-buffer pool (message_buffer_pool.hpp) registers it in libpool's
// registry and serves a RAM-disk-like ublk device from it. The kernel writes each WRITE straight
// into one of the app's message buffers (get_data, or user_copy), and the app's store keeps that
// buffer by reference (adopting_store.hpp): the data is never copied in user space. On SIGINT or
// SIGTERM it removes the device, then audits what it holds and prints one summary line.
#include <signal.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <string_view>

#include "adopting_store.hpp"
#include "cli/args.hpp"
#include "cli/exit_code.hpp"
#include "cli/program.hpp"
#include "cli/size.hpp"
#include "message_buffer_pool.hpp"
#include "pool/registry.hpp"
#include "ublk/control.hpp"
#include "ublk/device.hpp"

namespace {

constexpr std::string_view kProgram = "ublk-adopt-example";

constexpr std::string_view kUsage =
    "usage: ublk-adopt-example [options]\n"
    "  Serves /dev/ublkbN from the app's own message-buffer pool and keeps each WRITE's buffer\n"
    "  (adopted, not copied). Prints the block device path on stdout, then waits for SIGINT or\n"
    "  SIGTERM, removes the device and prints an audit line; exit 0 only if every byte held is in\n"
    "  a buffer of the app's pool and no WRITE was copied in user space.\n"
    "  --mode get_data|user_copy|auto  how WRITE data reaches the buffers (default auto; copy mode\n"
    "                                  reuses one buffer per tag, which cannot be adopted)\n"
    "  --size SIZE                     device size (default 64M)\n"
    "  --pool-bytes SIZE               the message-buffer arena (default 256M)\n"
    "  --queues N                      queues, one thread each (default 1)\n"
    "  --depth N                       queue depth (default 128, as the daemons)\n"
    "  --dump PATH                     after stopping, write the device image rebuilt from the\n"
    "                                  adopted buffers alone to PATH\n"
    "  -h, --help                      this text\n"
    "  --version                       the version\n"
    "  Sizes take K, M, G, T suffixes. Needs root and a ublk kernel (6.0 or later). Exit 0 as\n"
    "  above, 1 when the run or the audit failed, 2 for a bad command line (docs/cli.md).\n";

struct Options {
  ublk::Mode mode = ublk::Mode::kAuto;
  std::uint64_t size = 64ULL << 20;
  std::uint64_t pool_bytes = 256ULL << 20;
  unsigned queues = 1;
  unsigned depth = 128;
  std::string dump;
  bool help = false;
  bool version = false;
};

unsigned parse_count(const std::string& flag, const std::string& text) {
  unsigned out = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || out == 0) {
    throw cli::UsageError(cli::bad_value(flag, text, "want a whole number >= 1"));
  }
  return out;
}

std::uint64_t parse_bytes(const std::string& flag, const std::string& text) {
  const auto bytes = cli::parse_size(text);
  if (!bytes) throw cli::UsageError(cli::bad_size(flag, text));
  if (*bytes == 0) throw cli::UsageError(cli::bad_size(flag, text, "above 0"));
  return *bytes;
}

// Throws cli::UsageError.
Options parse(int argc, char** argv) {
  Options o;
  cli::Args args(argv + 1, argv + argc);
  while (args.next()) {
    const std::string flag(args.name());
    if (args.is("-h", "--help")) {
      o.help = args.flag();
    } else if (args.is("--version")) {
      o.version = args.flag();
    } else if (args.is("--mode")) {
      const std::string value = args.value();
      auto mode = ublk::parse_mode(value);
      if (!mode || *mode == ublk::Mode::kCopy || *mode == ublk::Mode::kZeroCopy) throw cli::UsageError(cli::bad_value(flag, value, "want get_data, user_copy or auto"));
      o.mode = *mode;
    } else if (args.is("--size")) {
      o.size = parse_bytes(flag, args.value());
    } else if (args.is("--pool-bytes")) {
      o.pool_bytes = parse_bytes(flag, args.value());
    } else if (args.is("--queues")) {
      o.queues = parse_count(flag, args.value());
    } else if (args.is("--depth")) {
      o.depth = parse_count(flag, args.value());
    } else if (args.is("--dump")) {
      o.dump = args.value();
    } else {
      args.unknown();
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  try {
    options = parse(argc, argv);
  } catch (const cli::UsageError& e) {
    return cli::fail(kProgram, e.what(), cli::kExitUsage);
  }
  if (options.help) {
    std::fputs(kUsage.data(), stdout);
    return 0;
  }
  if (options.version) {
    std::printf("%s\n", cli::version_line(kProgram).c_str());
    return 0;
  }
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);  // the queue threads inherit it

  try {
    constexpr std::uint32_t kMaxIo = 1U << 20;
    // The registration an app does: its allocator becomes a named provider, found the way the
    // daemons find theirs.
    auto messages = std::make_shared<example::MessageBufferPool>(kMaxIo, options.pool_bytes);
    if (!pool::registry().add("app_messages", messages)) throw std::runtime_error("'app_messages' is taken");
    auto provider = pool::registry().find("app_messages");

    ublk::Control control;
    auto decision = ublk::choose_mode(options.mode, control.features().features);
    if (auto* refusal = std::get_if<ublk::ModeRefusal>(&decision)) throw std::runtime_error(refusal->message);
    const auto mode = std::get<ublk::ModeChoice>(decision).mode;
    if (mode == ublk::Mode::kCopy)
      throw std::runtime_error("this kernel offers only copy mode, whose per-tag buffers cannot be adopted");

    example::AdoptingStore store(*messages, options.size);
    ublk::DeviceConfig config;
    config.queues = options.queues;
    config.depth = options.depth;
    config.size_bytes = options.size;
    config.max_io_bytes = kMaxIo;
    config.mode = mode;
    ublk::Device device(control, config, *provider, store);
    device.start();
    std::fprintf(stderr, "ublk-adopt-example: %s live, mode %s, provider app_messages\n",
                 device.block_path().c_str(), std::string(ublk::to_string(mode)).c_str());
    std::printf("%s\n", device.block_path().c_str());
    std::fflush(stdout);

    int signal = 0;
    sigwait(&stop, &signal);
    const auto stop_error = device.stop();
    const auto io = device.stats();
    const auto audit = store.audit();
    std::printf(
        "audit: mode=%s writes=%llu write_bytes=%llu userspace_copy_bytes=%llu kernel_copy_bytes=%llu "
        "segments=%llu held_bytes=%llu segments_outside_pool=%llu copied_writes=%llu live_buffers=%zu\n",
        std::string(ublk::to_string(mode)).c_str(), static_cast<unsigned long long>(io.writes),
        static_cast<unsigned long long>(io.write_bytes), static_cast<unsigned long long>(io.userspace_copy_bytes),
        static_cast<unsigned long long>(io.kernel_copy_bytes), static_cast<unsigned long long>(audit.segments),
        static_cast<unsigned long long>(audit.bytes), static_cast<unsigned long long>(audit.outside_pool),
        static_cast<unsigned long long>(audit.copied_writes), messages->live_buffers());
    std::fflush(stdout);
    if (!options.dump.empty()) {
      if (auto error = store.dump(options.dump); !error.empty()) throw std::runtime_error(error);
    }
    const bool adopted = audit.outside_pool == 0 && audit.copied_writes == 0 && io.userspace_copy_bytes == 0;
    if (!adopted) std::fprintf(stderr, "ublk-adopt-example: some WRITE data was copied or is outside the pool\n");
    return stop_error || !adopted ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ublk-adopt-example: %s\n", e.what());
    return 1;
  }
}
