#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ublk/mode.hpp"
#include "ublk/device.hpp"
#include "ublk/recovery.hpp"

namespace ublk::cli {

enum class Hugepages : std::uint8_t { kAuto, kHugetlb, kThp, kNone };
std::optional<Hugepages> parse_hugepages(std::string_view text) noexcept;
std::string_view to_string(Hugepages policy) noexcept;

// "4096", "64K", "1M", "2G", "1T" (binary multiples, any case); nullopt for anything else,
// including overflow. The convention every binary shares: cli::parse_size.
std::optional<std::uint64_t> parse_size(std::string_view text) noexcept;

enum class DaemonKind : std::uint8_t { kNull, kMem, kNbd, kLoop };

// ublk-pool-nbd --send-zc: WRITE batches of at least this many payload bytes go as zero-copy
// sends. Provisional: to be set from a measurement over a real NIC (docs/nbd.md, "Zero-copy send").
inline constexpr std::uint64_t kDefaultSendZcBytes = 64 << 10;

enum class Verbosity : std::uint8_t { kQuiet, kNormal, kVerbose };

struct DaemonOptions {
  Mode mode = Mode::kAuto;
  unsigned queues = 1;
  unsigned depth = 128;
  std::uint64_t size = std::uint64_t{1} << 30;
  std::uint32_t max_io = 1U << 20;
  std::uint32_t logical_block = 512;
  std::string provider = "pool";
  std::string provider_lib;       // a plugin .so that registers providers
  Hugepages hugepages = Hugepages::kAuto;
  std::uint64_t pool_limit = 0;   // the pool's byte limit; 0: none
  ExhaustionPolicy on_exhaustion = ExhaustionPolicy::kWait;
  int id = -1;
  RecoveryPolicy recovery = RecoveryPolicy::kNone;  // --recovery, --recovery-reissue, --recovery-fail-io
  std::optional<unsigned> recover;                  // --recover N: take over device N
  bool recover_or_create = false;                   // with --id N: --recover N if N waits for it, else create N
  // The options given that the device fixes (shape, mode, recovery policy, id): with --recover
  // they must agree with the device.
  std::vector<std::string> device_options;
  unsigned pool_steps = 1;        // the pool's size classes per doubling (pool::PoolConfig)
  std::string log_file;           // --log FILE: stderr goes there, reopened on SIGHUP
  std::string shmem_file;         // --shmem-file PATH: shared memory registered for zero copy
  bool shmem = false;             // --shmem: serve shared-memory clients (arenas over a socket)
  std::string shmem_socket;       // --shmem-socket PATH: their socket (empty: the default path)
  unsigned io_timeout_s = 2;      // --io-timeout S: the block layer's request timeout; 0: the kernel's
  Verbosity verbosity = Verbosity::kNormal;
  bool app_copy = false;
  bool json = false;
  bool no_data = false;           // null target only
  bool async = false;             // null target only: complete from a worker thread
  bool poison = false;            // --poison-released: a test aid for the buffer release points
  bool help = false;
  bool version = false;
  bool list_providers = false;    // --list-providers, or --provider help
  // ublk-pool-nbd only
  std::string connect;            // --connect unix:PATH | tcp:HOST:PORT
  std::string export_name;        // --export NAME (default: the server's default export, "")
  unsigned timeout_s = 30;        // --timeout S: reconnecting before IO fails; 0: fail at once
  std::optional<std::uint64_t> send_zc = kDefaultSendZcBytes;  // --send-zc SIZE|off (nullopt: off)
  // loop only: the backing file or block device; --size and --logical-block override what it says
  std::string file;
  bool buffered = false;  // --buffered: the page cache instead of O_DIRECT
  bool size_given = false;
  bool send_zc_given = false;
  bool logical_block_given = false;
};

struct ParseError {
  std::string message;  // one line, without the program name
};

// Parses argv[1..] of ublk-pool-null / ublk-pool-mem / ublk-pool-loop ("--opt value" and "--opt=value").
std::variant<DaemonOptions, ParseError> parse_daemon_options(std::span<const std::string_view> args,
                                                             DaemonKind kind);
std::string daemon_usage(std::string_view program, DaemonKind kind);

}  // namespace ublk::cli
