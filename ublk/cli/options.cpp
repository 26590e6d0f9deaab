#include "options.hpp"

#include <charconv>
#include <limits>

#include "cli/size.hpp"
#include "ublk/control.hpp"

namespace ublk::cli {

std::optional<Hugepages> parse_hugepages(std::string_view text) noexcept {
  for (auto p : {Hugepages::kAuto, Hugepages::kHugetlb, Hugepages::kThp, Hugepages::kNone}) {
    if (text == to_string(p)) return p;
  }
  return std::nullopt;
}

std::string_view to_string(Hugepages policy) noexcept {
  switch (policy) {
    case Hugepages::kAuto: return "auto";
    case Hugepages::kHugetlb: return "hugetlb";
    case Hugepages::kThp: return "thp";
    case Hugepages::kNone: return "none";
  }
  return "?";
}

std::optional<std::uint64_t> parse_size(std::string_view text) noexcept { return ::cli::parse_size(text); }

namespace {

template <class T>
std::optional<T> parse_number(std::string_view text) noexcept {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

}  // namespace

std::variant<DaemonOptions, ParseError> parse_daemon_options(std::span<const std::string_view> args,
                                                             DaemonKind kind) {
  DaemonOptions o;
  // Options a takeover checks against the device: it keeps what it was created with.
  auto note_fixed = [&](std::string_view name) { o.device_options.emplace_back(name); };
  auto set_recovery = [&](std::string_view name, RecoveryPolicy policy) -> std::optional<ParseError> {
    if (o.recovery != RecoveryPolicy::kNone && o.recovery != policy) {
      return ParseError{std::string(name) + " conflicts with the recovery option given before it (pick one)"};
    }
    o.recovery = policy;
    note_fixed(name);
    return std::nullopt;
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    std::string_view name = arg;
    std::optional<std::string_view> inline_value;
    if (const auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      inline_value = arg.substr(eq + 1);
    }
    auto flag = [&](bool& target) -> std::optional<ParseError> {
      if (inline_value) return ParseError{std::string(name) + " takes no value"};
      target = true;
      return std::nullopt;
    };
    std::optional<std::string_view> value;
    auto need_value = [&]() -> std::optional<ParseError> {
      if (inline_value) {
        value = inline_value;
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return ParseError{std::string(name) + " needs a value"};
      }
      return std::nullopt;
    };
    auto bad = [&](std::string_view why) { return ParseError{"bad " + std::string(name) + " " + quoted(*value) + ": " + std::string(why)}; };
    auto bad_size = [&](std::string_view rule) { return ParseError{::cli::bad_size(name, *value, rule)}; };

    if (name == "--help" || name == "-h") {
      if (auto e = flag(o.help)) return *e;
    } else if (name == "--version") {
      if (auto e = flag(o.version)) return *e;
    } else if (name == "--list-providers") {
      if (auto e = flag(o.list_providers)) return *e;
    } else if (name == "--app-copy") {
      if (auto e = flag(o.app_copy)) return *e;
    } else if (name == "--shmem") {
      if (auto e = flag(o.shmem)) return *e;
    } else if (name == "--poison-released") {
      if (auto e = flag(o.poison)) return *e;
    } else if (name == "--json") {
      if (auto e = flag(o.json)) return *e;
    } else if (name == "--recover-or-create") {
      if (auto e = flag(o.recover_or_create)) return *e;
    } else if (name == "--quiet" || name == "--verbose") {
      bool on = false;
      if (auto e = flag(on)) return *e;
      o.verbosity = name == "--quiet" ? Verbosity::kQuiet : Verbosity::kVerbose;
    } else if (name == "--log") {
      if (auto e = need_value()) return *e;
      if (value->empty()) return bad("want a file name");
      o.log_file = std::string(*value);
    } else if (name == "--pool-steps") {
      if (auto e = need_value()) return *e;
      auto n = parse_number<unsigned>(*value);
      if (!n || *n < 1 || *n > 8) return bad("want 1 to 8");
      o.pool_steps = *n;
    } else if (name == "--no-data" && kind == DaemonKind::kNull) {
      if (auto e = flag(o.no_data)) return *e;
    } else if (name == "--async" && kind == DaemonKind::kNull) {
      if (auto e = flag(o.async)) return *e;
    } else if (name == "--file" && kind == DaemonKind::kLoop) {
      if (auto e = need_value()) return *e;
      if (value->empty()) return bad("want the path of a file or block device");
      o.file = std::string(*value);
    } else if (name == "--buffered" && kind == DaemonKind::kLoop) {
      if (auto e = flag(o.buffered)) return *e;
    } else if (name == "--recovery" || name == "--recovery-reissue" || name == "--recovery-fail-io") {
      bool on = false;
      if (auto e = flag(on)) return *e;
      const RecoveryPolicy policy = name == "--recovery"           ? RecoveryPolicy::kRequeue
                                    : name == "--recovery-reissue" ? RecoveryPolicy::kReissue
                                                                   : RecoveryPolicy::kFailIo;
      if (auto e = set_recovery(name, policy)) return *e;
    } else if (name == "--recover") {
      if (auto e = need_value()) return *e;
      auto n = parse_number<unsigned>(*value);
      if (!n || *n >= (1U << 20)) return bad("want the number N of /dev/ublkbN");
      o.recover = *n;
    } else if (name == "--mode") {
      if (auto e = need_value()) return *e;
      auto mode = parse_mode(*value);
      if (mode == Mode::kZeroCopy && kind != DaemonKind::kLoop) {
        return bad("only ublk-pool-loop serves IO from the request's own pages; use get_data, user_copy, copy or "
                   "auto");
      }
      if (!mode) {
        return bad(kind == DaemonKind::kLoop ? "want copy, get_data, user_copy, zero_copy or auto"
                                             : "want copy, get_data, user_copy or auto");
      }
      o.mode = *mode;
      note_fixed(name);
    } else if (name == "--queues") {
      if (auto e = need_value()) return *e;
      note_fixed(name);
      auto n = parse_number<unsigned>(*value);
      if (!n || *n < 1 || *n > 64) return bad("want 1 to 64");
      o.queues = *n;
    } else if (name == "--depth") {
      if (auto e = need_value()) return *e;
      note_fixed(name);
      auto n = parse_number<unsigned>(*value);
      if (!n || *n < 1 || *n > kMaxQueueDepth) return bad("want 1 to 4096");
      o.depth = *n;
    } else if (name == "--size") {
      if (auto e = need_value()) return *e;
      note_fixed(name);
      auto n = parse_size(*value);
      if (!n) return bad_size({});
      if (*n == 0) return bad_size("above 0");
      o.size = *n;
      o.size_given = true;
    } else if (name == "--max-io") {
      if (auto e = need_value()) return *e;
      note_fixed(name);
      auto n = parse_size(*value);
      if (!n) return bad_size({});
      if (*n < 4096 || *n > kMaxIoBytes || *n % 4096) return bad_size("a multiple of 4K from 4K to 32M");
      o.max_io = static_cast<std::uint32_t>(*n);
    } else if (name == "--logical-block") {
      if (auto e = need_value()) return *e;
      note_fixed(name);
      auto n = parse_size(*value);
      if (!n || (*n != 512 && *n != 4096)) return bad("want 512 or 4096 (4K)");
      o.logical_block = static_cast<std::uint32_t>(*n);
      o.logical_block_given = true;
    } else if (name == "--provider") {
      if (auto e = need_value()) return *e;
      if (value->empty()) return bad("want a provider name (--list-providers lists them)");
      if (*value == "help") o.list_providers = true;
      o.provider = std::string(*value);
    } else if (name == "--provider-lib") {
      if (auto e = need_value()) return *e;
      if (value->empty()) return bad("want the path of a provider plugin");
      o.provider_lib = std::string(*value);
    } else if (name == "--hugepages") {
      if (auto e = need_value()) return *e;
      auto policy = parse_hugepages(*value);
      if (!policy) return bad("want auto, hugetlb, thp or none");
      o.hugepages = *policy;
    } else if (name == "--shmem-socket") {
      if (auto e = need_value()) return *e;
      if (value->empty()) return bad("want the path of the unix socket for shared-memory clients");
      o.shmem_socket = std::string(*value);
      o.shmem = true;
    } else if (name == "--shmem-file") {
      if (auto e = need_value()) return *e;
      if (value->empty()) return bad("want the path of a file on a hugetlbfs (or tmpfs) mount");
      o.shmem_file = std::string(*value);
    } else if (name == "--io-timeout") {
      if (auto e = need_value()) return *e;
      auto n = parse_number<unsigned>(*value);
      if (!n || *n > 3600) return bad("want seconds, 0 to 3600 (0: the kernel's default)");
      o.io_timeout_s = *n;
    } else if (name == "--pool-limit") {
      if (auto e = need_value()) return *e;
      auto n = parse_size(*value);
      if (!n) return bad_size("or 0 for no limit");
      o.pool_limit = *n;
    } else if (name == "--on-exhaustion") {
      if (auto e = need_value()) return *e;
      auto policy = parse_exhaustion_policy(*value);
      if (!policy) return bad("want wait or fail");
      o.on_exhaustion = *policy;
    } else if (name == "--id") {
      if (auto e = need_value()) return *e;
      note_fixed(name);
      auto n = parse_number<int>(*value);
      if (!n || *n < 0 || *n >= (1 << 20)) return bad("want a device number >= 0");
      o.id = *n;
    } else if (name == "--connect" && kind == DaemonKind::kNbd) {
      if (auto e = need_value()) return *e;
      if (!value->starts_with("unix:") && !value->starts_with("tcp:")) return bad("want unix:PATH or tcp:HOST:PORT");
      o.connect = std::string(*value);
    } else if (name == "--export" && kind == DaemonKind::kNbd) {
      if (auto e = need_value()) return *e;
      if (value->size() > 4096) return bad("an export name has at most 4096 bytes");
      o.export_name = std::string(*value);
    } else if (name == "--timeout" && kind == DaemonKind::kNbd) {
      if (auto e = need_value()) return *e;
      auto n = parse_number<unsigned>(*value);
      if (!n || *n > 86400) return bad("want seconds from 0 to 86400");
      o.timeout_s = *n;
    } else if (name == "--send-zc" && kind == DaemonKind::kNbd) {
      if (auto e = need_value()) return *e;
      o.send_zc_given = true;
      if (*value == "off") {
        o.send_zc.reset();
      } else {
        auto n = parse_size(*value);
        if (!n) return bad_size("or off");
        o.send_zc = *n;
      }
    } else {
      return ParseError{"unknown option " + quoted(arg) + " (see --help)"};
    }
  }
  if (kind == DaemonKind::kNbd && !o.help && !o.version && !o.list_providers) {
    // The export decides the device's size and block size.
    if (o.connect.empty()) return ParseError{"--connect unix:PATH or tcp:HOST:PORT is required"};
    for (std::string_view given : {"--size", "--logical-block"}) {
      for (auto a : args) {
        if (a == given || (a.starts_with(given) && a.size() > given.size() && a[given.size()] == '=')) {
          return ParseError{std::string(given) + " does not go with ublk-pool-nbd"};
        }
      }
    }
  }
  if (o.mode == Mode::kZeroCopy && o.app_copy) {
    return ParseError{"--app-copy does not go with --mode zero_copy: no request data reaches user space"};
  }
  if (o.recover_or_create && o.recover) return ParseError{"--recover-or-create and --recover exclude each other"};
  if (o.recover_or_create && o.id < 0) return ParseError{"--recover-or-create needs --id N"};
  if (o.recover_or_create && o.recovery == RecoveryPolicy::kNone) {
    return ParseError{"--recover-or-create needs --recovery, --recovery-reissue or --recovery-fail-io"};
  }
  if (kind == DaemonKind::kLoop && o.file.empty() && !o.help && !o.version && !o.list_providers) return ParseError{"--file PATH is required"};
  if (o.size % o.logical_block) {
    return ParseError{"--size " + std::to_string(o.size) + " is not a multiple of --logical-block " +
                      std::to_string(o.logical_block)};
  }
  return o;
}

namespace {
std::string nbd_usage(std::string_view program) {
  return "usage: " + std::string(program) + " --connect unix:PATH|tcp:HOST:PORT [--export NAME] [--timeout S] [options]\n"
         "Serves a ublk device in front of an NBD export (nbdkit, qemu-nbd, nbd-server): its size, block size,\n"
         "read-only flag and operations come from the server. One connection per queue when the server\n"
         "allows multi-conn, else one queue. Prints /dev/ublkbN on stdout once live; runs until\n"
         "SIGINT/SIGTERM, then removes the device and prints a stats report.\n\n"
         "  --connect ADDR       unix:PATH or tcp:HOST:PORT (required)\n"
         "  --export NAME        the export to serve (default: the server's default, \"\")\n"
         "  --timeout S          when the server goes away, IO waits while reconnecting with backoff for\n"
         "                       at most S seconds, then fails with EIO (default 30; 0: fail at once)\n"
         "  --send-zc SIZE|off   WRITE batches carrying at least SIZE bytes of data go out with the kernel's\n"
         "                       zero-copy send (io_uring SENDMSG_ZC; TCP only); off: never. Default " +
             std::to_string(kDefaultSendZcBytes >> 10) + "K\n"
         "                       to a server on another host, off to one on this host (the kernel would\n"
         "                       copy anyway); given, it applies to both\n"
         "  --mode MODE          copy | get_data | user_copy | auto (default auto)\n"
         "  --queues N           queues, one thread and one connection each (default 1)\n"
         "  --depth N            queue depth = requests in flight per connection (default 128)\n"
         "  --max-io SIZE        largest request (default 1M, at most the server's maximum)\n"
         "  --provider NAME      buffer provider (default pool)\n"
         "  --provider-lib PATH  load a provider plugin (.so) first\n"
         "  --hugepages POLICY   auto | hugetlb | thp | none (default auto)\n"
         "  --pool-limit SIZE    the pool's byte limit, 0 for none (default 0)\n"
         "  --shmem-file PATH    map PATH (a file on hugetlbfs) and register it (UBLK_F_SHMEM_ZC, Linux 7.1+):\n"
         "                       O_DIRECT IO from that memory (fio --mem=mmaphuge:PATH) is not copied\n"
         "  --shmem              serve shared-memory clients (UBLK_F_SHMEM_ZC, Linux 7.1+): an application\n"
         "                       connects to the socket and gets arenas of memory whose IO is not copied\n"
         "  --shmem-socket PATH  that socket (implies --shmem; default /run/ublk-pool/ublkbN.shmem.sock)\n"
         "  --io-timeout S       the block layer's request timeout (default 2; 0: the kernel's 30). A live\n"
         "                       daemon's IO never times out; on 6.12 (not 7.3) it is when the kernel\n"
         "                       notices a daemon that died with every tag in flight\n"
         "  --on-exhaustion P    wait | fail (default wait)\n"
         "  --id N               ask for /dev/ublkbN\n"
         "  --recovery           the device outlives a crash of this daemon (UBLK_F_USER_RECOVERY): IO in\n"
         "                       flight fails, new IO waits for the next daemon (--recover N)\n"
         "  --recovery-reissue   as --recovery, but IO in flight is issued again to the next daemon\n"
         "  --recovery-fail-io   as --recovery, but all IO fails until the next daemon is there\n"
         "  --recover N          take over device N, whose daemon died: connect to the same export (the\n"
         "                       data is on the server), which must still have the device's size and\n"
         "                       block size; the device's queues, depth, max IO, mode and policy are kept\n"
         "  --recover-or-create  with --id N and a --recovery option: --recover N when device N waits for\n"
         "                       a takeover, else create it\n"
         "  --list-providers     the provider names this daemon knows, one a line\n"
         "  --app-copy           also copy every WRITE into an application buffer before it is sent (the\n"
         "                       2-memcpy baseline: a network layer that cannot send from the request's)\n"
         "  --log FILE           messages to FILE instead of stderr (SIGHUP reopens it)\n"
         "  --quiet              errors only\n"
         "  --verbose            also the stats socket and each stats request\n"
         "  --json               stats report as JSON on stdout\n"
         "  --help               this text\n"
         "  --version            the version\n"
         "Sizes take K, M, G, T suffixes (binary). Exit 0 after a clean run, 1 when the run failed,\n"
         "2 for a bad command line (docs/cli.md).\n";
}
}  // namespace

std::string daemon_usage(std::string_view program, DaemonKind kind) {
  if (kind == DaemonKind::kNbd) return nbd_usage(program);
  std::string text = "usage: " + std::string(program) + " [options]\n";
  text += kind == DaemonKind::kNull ? "Serves a ublk null device: WRITE data reaches a provider buffer, then is dropped.\n"
          : kind == DaemonKind::kLoop
              ? "Serves a regular file or block device (--file) as a ublk device, IO on each queue's io_uring.\n"
                "O_DIRECT unless the backing refuses it or --buffered; --size creates or extends the file.\n"
              : "Serves a ublk RAM disk. Its data is kept in a memfd mapping; with a --recovery option in\n"
                "/dev/shm/ublk-pool-mem-N instead, so that it survives a crash for --recover N.\n";
  text +=
      "Prints /dev/ublkbN on stdout once the device is live; runs until SIGINT/SIGTERM, then removes\n"
      "the device and prints a stats report (stderr; stdout with --json).\n\n";
  text += kind == DaemonKind::kLoop
              ? "  --mode MODE          copy | get_data | user_copy | zero_copy | auto (default auto: zero_copy\n"
                "                       where the kernel has AUTO_BUF_REG, else from the kernel's features)\n"
              : "  --mode MODE          copy | get_data | user_copy | auto (default auto: from the kernel's features)\n";
  text +=
      "  --queues N           queues, one thread each (default 1; 1 to 64, and the kernel refuses more\n"
      "                       than the machine's CPUs)\n"
      "  --depth N            queue depth (default 128, the project's default; at most 4096)\n"
      "  --size SIZE          capacity, K/M/G/T suffixes (default 1G)\n"
      "  --max-io SIZE        largest request (default 1M)\n"
      "  --logical-block N    512 | 4096 (default 512)\n"
      "  --provider NAME      buffer provider (default pool, libpool's SizeClassPool); 'help' lists them\n"
      "  --provider-lib PATH  load a provider plugin (.so) first\n"
      "  --list-providers     print the provider names this binary knows (with --provider-lib: its too)\n"
      "  --hugepages POLICY   the pool's backing: auto | hugetlb | thp | none (default auto)\n"
      "  --pool-limit SIZE    the pool's byte limit, 0 for none (default 0)\n"
      "  --shmem-file PATH    map PATH (a file on hugetlbfs) and register it (UBLK_F_SHMEM_ZC, Linux 7.1+):\n"
      "                       O_DIRECT IO from that memory (fio --mem=mmaphuge:PATH) is not copied\n"
      "  --shmem              serve shared-memory clients (UBLK_F_SHMEM_ZC, Linux 7.1+): an application\n"
      "                       connects to the socket (libpool's pool/shm_client.h) and gets arenas of\n"
      "                       memory whose O_DIRECT IO is not copied; `ublk-pool list` shows the socket\n"
      "  --shmem-socket PATH  that socket (implies --shmem; default /run/ublk-pool/ublkbN.shmem.sock,\n"
      "                       or under $UBLK_POOL_RUN_DIR)\n"
      "  --io-timeout S       the block layer's request timeout (default 2; 0: the kernel's 30). A live\n"
      "                       daemon's IO never times out; on 6.12 (not 7.3) it is when the kernel\n"
      "                       notices a daemon that died with every tag in flight\n"
      "  --on-exhaustion P    when the provider has no buffer: wait (default: the IO waits until\n"
      "                       buffers come back, at most 10 s, then fails) | fail (ENOMEM at once)\n"
      "  --id N               ask for /dev/ublkbN (default: the kernel picks)\n"
      "  --recovery           the device outlives a crash of this daemon (UBLK_F_USER_RECOVERY): IO in\n"
      "                       flight fails, new IO waits for the next daemon (--recover N)\n"
      "  --recovery-reissue   as --recovery, but IO in flight is issued again to the next daemon\n"
      "  --recovery-fail-io   as --recovery, but all IO fails until the next daemon is there\n"
      "  --recover N          take over device N, whose daemon died (it was created with a --recovery\n"
      "                       option): its shape, mode and policy are kept; the options that set them\n"
      "                       may be given too, and are refused only if they differ from the device's\n"
      "  --recover-or-create  with --id N and a --recovery option: --recover N when device N waits for\n"
      "                       a takeover, else create it (one command line for a service to restart)\n"
      "  --pool-steps N       the pool's size classes per doubling, 1 to 8 (default 1: powers of two)\n"
      "  --log FILE           write messages to FILE instead of stderr; SIGHUP reopens it\n"
      "  --quiet, --verbose   only errors and the device path / also each stats request\n"
      "  --app-copy           also copy every WRITE into an application buffer (the 2-memcpy baseline)\n";
  if (kind == DaemonKind::kNull) {
    text += "  --no-data            skip buffers and copies where the mode allows (frontend overhead only)\n";
    text += "  --async              complete every request from a worker thread (through the queue's eventfd)\n";
  }
  if (kind == DaemonKind::kLoop) {
    text += "  --file PATH          the backing file or block device (required); size and logical\n"
            "                       block from it unless --size / --logical-block say otherwise\n";
    text += "  --buffered           use the page cache (default: O_DIRECT where the backing allows it)\n";
  }
  text +=
      "  --poison-released    overwrite every buffer as it goes back to the provider (a test aid:\n"
      "                       a buffer released while the kernel still used it corrupts data)\n"
      "  --json               stats report as JSON on stdout\n"
      "  --help               this text\n"
      "  --version            the version\n"
      "Sizes take K, M, G, T suffixes (binary). Exit 0 after a clean run, 1 when the run failed,\n"
      "2 for a bad command line (docs/cli.md).\n";
  return text;
}

}  // namespace ublk::cli
