#include "options.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace ublk::cli {
namespace {

std::variant<DaemonOptions, ParseError> parse(std::vector<std::string_view> args,
                                              DaemonKind kind = DaemonKind::kMem) {
  return parse_daemon_options(args, kind);
}
DaemonOptions ok(std::vector<std::string_view> args, DaemonKind kind = DaemonKind::kMem) {
  auto r = parse(std::move(args), kind);
  EXPECT_TRUE(std::holds_alternative<DaemonOptions>(r))
      << (std::holds_alternative<ParseError>(r) ? std::get<ParseError>(r).message : "");
  return std::holds_alternative<DaemonOptions>(r) ? std::get<DaemonOptions>(r) : DaemonOptions{};
}
std::string error(std::vector<std::string_view> args, DaemonKind kind = DaemonKind::kMem) {
  auto r = parse(std::move(args), kind);
  EXPECT_TRUE(std::holds_alternative<ParseError>(r));
  return std::holds_alternative<ParseError>(r) ? std::get<ParseError>(r).message : "";
}

TEST(ParseSize, TakesBinarySuffixes) {
  EXPECT_EQ(parse_size("4096"), 4096u);
  EXPECT_EQ(parse_size("64K"), 65536u);
  EXPECT_EQ(parse_size("64k"), 65536u);
  EXPECT_EQ(parse_size("1M"), 1u << 20);
  EXPECT_EQ(parse_size("2G"), 2ull << 30);
  EXPECT_EQ(parse_size("1T"), 1ull << 40);
  EXPECT_EQ(parse_size("0"), 0u);
}

TEST(ParseSize, RefusesJunkAndOverflow) {
  EXPECT_FALSE(parse_size("").has_value());
  EXPECT_FALSE(parse_size("M").has_value());
  EXPECT_FALSE(parse_size("1.5G").has_value());
  EXPECT_FALSE(parse_size("-1").has_value());
  EXPECT_FALSE(parse_size("12X").has_value());
  EXPECT_FALSE(parse_size("1MB").has_value());
  EXPECT_FALSE(parse_size("99999999999999999999").has_value());
  EXPECT_FALSE(parse_size("17179869184G").has_value());  // 2^34 G overflows 64 bits
}

TEST(DaemonOptions, DefaultsFollowTheIssue) {
  DaemonOptions o = ok({});
  EXPECT_EQ(o.mode, Mode::kAuto);
  EXPECT_EQ(o.queues, 1u);
  EXPECT_EQ(o.depth, 128u);
  EXPECT_EQ(o.size, 1ull << 30);
  EXPECT_EQ(o.max_io, 1u << 20);
  EXPECT_EQ(o.logical_block, 512u);
  EXPECT_EQ(o.provider, "pool");
  EXPECT_EQ(o.hugepages, Hugepages::kAuto);
  EXPECT_EQ(o.id, -1);
  EXPECT_FALSE(o.app_copy || o.json || o.help || o.no_data);
}

TEST(DaemonOptions, ReadsEveryOptionInBothForms) {
  DaemonOptions o = ok({"--mode", "user_copy", "--queues=2", "--depth", "64", "--size", "512M", "--max-io=256K",
                        "--logical-block", "4096", "--provider", "jemalloc", "--hugepages", "thp", "--id", "3",
                        "--app-copy", "--json", "--pool-limit", "64M"});
  EXPECT_EQ(o.mode, Mode::kUserCopy);
  EXPECT_EQ(o.queues, 2u);
  EXPECT_EQ(o.depth, 64u);
  EXPECT_EQ(o.size, 512ull << 20);
  EXPECT_EQ(o.max_io, 256u << 10);
  EXPECT_EQ(o.logical_block, 4096u);
  EXPECT_EQ(o.provider, "jemalloc");
  EXPECT_EQ(o.hugepages, Hugepages::kThp);
  EXPECT_EQ(o.id, 3);
  EXPECT_TRUE(o.app_copy);
  EXPECT_TRUE(o.json);
  EXPECT_EQ(o.pool_limit, 64u << 20);
}

TEST(DaemonOptions, NoDataBelongsToTheNullTargetOnly) {
  EXPECT_TRUE(ok({"--no-data"}, DaemonKind::kNull).no_data);
  EXPECT_TRUE(ok({"--async"}, DaemonKind::kNull).async);
  EXPECT_NE(error({"--async"}, DaemonKind::kMem).find("unknown option"), std::string::npos);
  EXPECT_NE(error({"--no-data"}, DaemonKind::kMem).find("unknown option '--no-data'"), std::string::npos);
}

TEST(DaemonOptions, LoopNeedsAFileAndKnowsWhatWasGiven) {
  const DaemonOptions o = ok({"--file", "/tmp/x.img", "--buffered"}, DaemonKind::kLoop);
  EXPECT_EQ(o.file, "/tmp/x.img");
  EXPECT_TRUE(o.buffered);
  EXPECT_FALSE(o.size_given);
  EXPECT_FALSE(o.logical_block_given);
  const DaemonOptions sized = ok({"--file=/dev/sdb", "--size", "1G", "--logical-block", "4096"}, DaemonKind::kLoop);
  EXPECT_TRUE(sized.size_given);
  EXPECT_TRUE(sized.logical_block_given);
  EXPECT_NE(error({"--size", "1G"}, DaemonKind::kLoop).find("--file PATH is required"), std::string::npos);
  EXPECT_NE(error({"--file", "x"}, DaemonKind::kMem).find("unknown option '--file'"), std::string::npos);
  EXPECT_NE(error({"--buffered"}, DaemonKind::kNull).find("unknown option"), std::string::npos);
  EXPECT_EQ(ok({"--file", "x", "--mode", "zero_copy"}, DaemonKind::kLoop).mode, Mode::kZeroCopy);
  EXPECT_NE(error({"--file", "x", "--mode", "zero_copy", "--app-copy"}, DaemonKind::kLoop).find("--app-copy"),
            std::string::npos);
  // Only the loop target serves IO from the request's own pages: the others refuse it by name.
  for (DaemonKind kind : {DaemonKind::kNull, DaemonKind::kMem}) {
    const std::string message = error({"--mode", "zero_copy"}, kind);
    EXPECT_NE(message.find("bad --mode 'zero_copy'"), std::string::npos) << message;
    EXPECT_NE(message.find("ublk-pool-loop"), std::string::npos) << message;
  }
  EXPECT_NE(error({"--connect", "unix:/s", "--mode", "zero_copy"}, DaemonKind::kNbd).find("ublk-pool-loop"),
            std::string::npos);
  EXPECT_TRUE(ok({"--help"}, DaemonKind::kLoop).help);
}

TEST(DaemonOptions, BadInputGivesOneLineNamingTheOption) {
  EXPECT_NE(error({"--frobnicate"}).find("unknown option '--frobnicate'"), std::string::npos);
  EXPECT_NE(error({"--mode", "zero_copy"}).find("--mode"), std::string::npos);
  EXPECT_NE(error({"--size", "12X"}).find("--size"), std::string::npos);
  EXPECT_NE(error({"--size", "0"}).find("--size"), std::string::npos);
  EXPECT_NE(error({"--depth", "0"}).find("--depth"), std::string::npos);
  EXPECT_NE(error({"--depth", "5000"}).find("--depth"), std::string::npos);
  EXPECT_NE(error({"--queues", "x"}).find("--queues"), std::string::npos);
  EXPECT_NE(error({"--max-io", "6000"}).find("--max-io"), std::string::npos);
  EXPECT_NE(error({"--max-io", "64M"}).find("--max-io"), std::string::npos);
  EXPECT_NE(error({"--logical-block", "1024"}).find("--logical-block"), std::string::npos);
  EXPECT_NE(error({"--hugepages", "yes"}).find("--hugepages"), std::string::npos);
  EXPECT_NE(error({"--id", "-2"}).find("--id"), std::string::npos);
  EXPECT_NE(error({"--mode"}).find("needs a value"), std::string::npos);
  EXPECT_NE(error({"--json=1"}).find("takes no value"), std::string::npos);
  EXPECT_NE(error({"--logical-block", "4096", "--size", "6K"}).find("multiple"), std::string::npos);
  for (auto message : {error({"--size", "12X"}), error({"--bogus"})}) {
    EXPECT_EQ(message.find('\n'), std::string::npos);
  }
}

TEST(DaemonOptions, UsageListsEveryOption) {
  const std::string usage = daemon_usage("ublk-pool-null", DaemonKind::kNull);
  for (auto opt : {"--mode", "--queues", "--depth", "--size", "--max-io", "--logical-block", "--provider",
                   "--hugepages", "--id", "--app-copy", "--json", "--help", "--no-data"}) {
    EXPECT_NE(usage.find(opt), std::string::npos) << opt;
  }
  EXPECT_EQ(daemon_usage("ublk-pool-mem", DaemonKind::kMem).find("--no-data"), std::string::npos);
}

TEST(DaemonOptions, ExhaustionPolicyDefaultsToWait) {
  EXPECT_EQ(ok({}).on_exhaustion, ExhaustionPolicy::kWait);
  EXPECT_EQ(ok({"--on-exhaustion", "fail"}).on_exhaustion, ExhaustionPolicy::kFail);
  EXPECT_NE(error({"--on-exhaustion", "later"}).find("want wait or fail"), std::string::npos);
}

TEST(DaemonOptions, RecoveryFlagsPickAPolicy) {
  EXPECT_EQ(ok({}).recovery, RecoveryPolicy::kNone);
  EXPECT_EQ(ok({"--recovery"}).recovery, RecoveryPolicy::kRequeue);
  EXPECT_EQ(ok({"--recovery-reissue"}).recovery, RecoveryPolicy::kReissue);
  EXPECT_EQ(ok({"--recovery-fail-io"}).recovery, RecoveryPolicy::kFailIo);
  EXPECT_EQ(ok({"--recovery", "--recovery"}).recovery, RecoveryPolicy::kRequeue);
  EXPECT_NE(error({"--recovery", "--recovery-reissue"}).find("conflicts"), std::string::npos);
  EXPECT_NE(error({"--recovery=yes"}).find("takes no value"), std::string::npos);
}

TEST(DaemonOptions, RecoverTakesADeviceNumberAndRecordsTheShapeOptionsGiven) {
  EXPECT_EQ(ok({"--recover", "5"}).recover, 5u);
  EXPECT_EQ(ok({"--recover=0", "--json", "--provider", "pool"}).recover, 0u);
  EXPECT_FALSE(ok({}).recover.has_value());
  EXPECT_NE(error({"--recover", "x"}).find("bad --recover"), std::string::npos);
  EXPECT_NE(error({"--recover"}).find("needs a value"), std::string::npos);
  // The same command line as at creation, --recover added: checked against the device later.
  const DaemonOptions o = ok({"--queues", "2", "--depth", "64", "--mode", "copy", "--recovery", "--provider", "pool",
                              "--recover", "5"});
  EXPECT_EQ(o.recover, 5u);
  EXPECT_EQ(o.device_options, (std::vector<std::string>{"--queues", "--depth", "--mode", "--recovery"}));
  EXPECT_TRUE(ok({"--recover", "5"}).device_options.empty());
}

TEST(DaemonOptions, RecoverOrCreateNeedsAnIdAndARecoveryPolicy) {
  const DaemonOptions o = ok({"--id", "3", "--recover-or-create", "--recovery-reissue"});
  EXPECT_TRUE(o.recover_or_create);
  EXPECT_FALSE(o.recover.has_value());
  EXPECT_NE(error({"--recover-or-create", "--recovery"}).find("needs --id N"), std::string::npos);
  EXPECT_NE(error({"--recover-or-create", "--id", "3"}).find("needs --recovery"), std::string::npos);
  EXPECT_NE(error({"--recover-or-create", "--id", "3", "--recovery", "--recover", "3"}).find("exclude each other"),
            std::string::npos);
  EXPECT_NE(error({"--recover-or-create=1"}).find("takes no value"), std::string::npos);
}

TEST(DaemonOptions, NbdTakesTheRecoveryOptionsButNotTheShape) {
  auto nbd = [](std::vector<std::string_view> args) {
    args.insert(args.begin(), {"--connect", "unix:/run/x.sock"});
    return parse_daemon_options(args, DaemonKind::kNbd);
  };
  const auto created = nbd({"--recovery-reissue", "--id", "4"});
  ASSERT_TRUE(std::holds_alternative<DaemonOptions>(created));
  EXPECT_EQ(std::get<DaemonOptions>(created).recovery, RecoveryPolicy::kReissue);
  const auto recovered = nbd({"--recover", "4"});
  ASSERT_TRUE(std::holds_alternative<DaemonOptions>(recovered));
  EXPECT_EQ(std::get<DaemonOptions>(recovered).recover, 4u);
  EXPECT_TRUE(std::holds_alternative<DaemonOptions>(nbd({"--id", "4", "--recover-or-create", "--recovery"})));
  for (std::string_view shape : {"--size=1G", "--logical-block=4096"}) {
    const auto refused = nbd({shape});
    ASSERT_TRUE(std::holds_alternative<ParseError>(refused)) << shape;
    EXPECT_NE(std::get<ParseError>(refused).message.find("does not go with ublk-pool-nbd"), std::string::npos);
  }
  const std::string usage = daemon_usage("d", DaemonKind::kNbd);
  for (const char* flag : {"--recovery", "--recovery-reissue", "--recovery-fail-io", "--recover", "--recover-or-create"}) {
    EXPECT_NE(usage.find(std::string("  ") + flag + " "), std::string::npos) << flag;
  }
}

TEST(DaemonOptions, NbdSendZcTakesASizeOrOff) {
  auto nbd = [](std::vector<std::string_view> args) {
    args.insert(args.begin(), {"--connect", "tcp:server:10809"});
    return parse_daemon_options(args, DaemonKind::kNbd);
  };
  auto send_zc = [&](std::vector<std::string_view> args) {
    const auto parsed = nbd(std::move(args));
    EXPECT_TRUE(std::holds_alternative<DaemonOptions>(parsed));
    return std::holds_alternative<DaemonOptions>(parsed) ? std::get<DaemonOptions>(parsed).send_zc : std::nullopt;
  };
  EXPECT_EQ(send_zc({}), std::optional<std::uint64_t>(kDefaultSendZcBytes));
  EXPECT_EQ(kDefaultSendZcBytes, 64u << 10);
  EXPECT_EQ(send_zc({"--send-zc", "16k"}), std::optional<std::uint64_t>(16u << 10));
  EXPECT_EQ(send_zc({"--send-zc=0"}), std::optional<std::uint64_t>(0));
  EXPECT_EQ(send_zc({"--send-zc", "off"}), std::nullopt);
  const auto bad = nbd({"--send-zc", "lots"});
  ASSERT_TRUE(std::holds_alternative<ParseError>(bad));
  EXPECT_EQ(std::get<ParseError>(bad).message,
            "bad --send-zc 'lots': want a size such as 64K, 512M or 1G (suffixes K, M, G, T), or off");
  // Only ublk-pool-nbd sends.
  EXPECT_NE(error({"--send-zc", "64k"}).find("unknown option"), std::string::npos);
  const std::string usage = daemon_usage("d", DaemonKind::kNbd);
  EXPECT_NE(usage.find("\n  --send-zc SIZE|off "), std::string::npos);
  EXPECT_NE(usage.find("Default 64K\n"), std::string::npos);
  // Given, it also applies to a server on this host; the default does not.
  auto given = [&](std::vector<std::string_view> args) {
    const auto parsed = nbd(std::move(args));
    return std::holds_alternative<DaemonOptions>(parsed) && std::get<DaemonOptions>(parsed).send_zc_given;
  };
  EXPECT_FALSE(given({}));
  EXPECT_TRUE(given({"--send-zc", "64k"}));
  EXPECT_TRUE(given({"--send-zc", "off"}));
}

TEST(DaemonOptions, PoolStepsLogAndVerbosity) {
  EXPECT_EQ(ok({}).pool_steps, 1u);
  EXPECT_EQ(ok({"--pool-steps", "4"}).pool_steps, 4u);
  EXPECT_NE(error({"--pool-steps", "0"}).find("want 1 to 8"), std::string::npos);
  EXPECT_NE(error({"--pool-steps", "9"}).find("want 1 to 8"), std::string::npos);
  EXPECT_EQ(ok({"--log", "/var/log/x.log"}).log_file, "/var/log/x.log");
  EXPECT_NE(error({"--log", ""}).find("want a file name"), std::string::npos);
  EXPECT_EQ(ok({}).verbosity, Verbosity::kNormal);
  EXPECT_EQ(ok({"--quiet"}).verbosity, Verbosity::kQuiet);
  EXPECT_EQ(ok({"--verbose"}).verbosity, Verbosity::kVerbose);
}

TEST(DaemonOptions, VersionAndProviderListingAreFlags) {
  EXPECT_TRUE(ok({"--version"}).version);
  EXPECT_TRUE(ok({"--list-providers"}).list_providers);
  const DaemonOptions help = ok({"--provider", "help"});
  EXPECT_TRUE(help.list_providers);
  EXPECT_FALSE(ok({"--provider", "pmr"}).list_providers);
  EXPECT_NE(error({"--version=1"}).find("--version takes no value"), std::string::npos);
}

TEST(DaemonOptions, OneWordingForABadSize) {
  EXPECT_EQ(error({"--size", "12Q"}),
            "bad --size '12Q': want a size such as 64K, 512M or 1G (suffixes K, M, G, T)");
  EXPECT_EQ(error({"--max-io=1000"}),
            "bad --max-io '1000': want a size such as 64K, 512M or 1G (suffixes K, M, G, T), a multiple of 4K "
            "from 4K to 32M");
}

TEST(DaemonOptions, ShmemServesClientsOnTheDefaultOrAGivenSocket) {
  EXPECT_FALSE(ok({}).shmem);
  const DaemonOptions plain = ok({"--shmem"});
  EXPECT_TRUE(plain.shmem);
  EXPECT_EQ(plain.shmem_socket, "");
  const DaemonOptions given = ok({"--shmem-socket", "/tmp/app.sock"});
  EXPECT_TRUE(given.shmem);  // a socket implies serving it
  EXPECT_EQ(given.shmem_socket, "/tmp/app.sock");
  EXPECT_NE(error({"--shmem-socket", ""}).find("--shmem-socket"), std::string::npos);
  EXPECT_NE(error({"--shmem=yes"}).find("takes no value"), std::string::npos);
}

TEST(DaemonOptions, IoTimeoutIsSecondsWithTwoByDefault) {
  EXPECT_EQ(ok({}).io_timeout_s, 2u);
  EXPECT_EQ(ok({"--io-timeout", "0"}).io_timeout_s, 0u);
  EXPECT_EQ(ok({"--io-timeout=30"}, DaemonKind::kNull).io_timeout_s, 30u);
  EXPECT_EQ(error({"--io-timeout", "2s"}), "bad --io-timeout '2s': want seconds, 0 to 3600 (0: the kernel's default)");
  EXPECT_EQ(error({"--io-timeout", "3601"}), "bad --io-timeout '3601': want seconds, 0 to 3600 (0: the kernel's default)");
  EXPECT_NE(daemon_usage("d", DaemonKind::kNbd).find("  --io-timeout S "), std::string::npos);
}

TEST(DaemonOptions, EveryFlagIsInTheHelp) {
  for (const auto kind : {DaemonKind::kNull, DaemonKind::kMem}) {
    const std::string usage = daemon_usage("d", kind);
    for (const char* flag : {"--mode", "--queues", "--depth", "--size", "--max-io", "--logical-block", "--provider",
                             "--provider-lib", "--list-providers", "--hugepages", "--pool-limit", "--on-exhaustion",
                             "--id", "--recovery", "--recovery-reissue", "--recovery-fail-io", "--recover",
                             "--io-timeout", "--app-copy", "--poison-released", "--json", "--help", "--version", "--shmem",
                             "--shmem-socket", "--shmem-file"}) {
      EXPECT_NE(usage.find(std::string("  ") + flag + " "), std::string::npos) << flag;
    }
  }
}

}  // namespace
}  // namespace ublk::cli
