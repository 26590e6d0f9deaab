#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli/args.hpp"
#include "cli/program.hpp"
#include "cli/size.hpp"
#include "pool/version.h"

namespace {

struct Seen {
  std::string depth;
  bool json = false;
};

Seen parse(std::vector<std::string> argv) {
  Seen seen;
  cli::Args args(std::move(argv));
  while (args.next()) {
    if (args.is("--depth")) {
      seen.depth = args.value();
    } else if (args.is("--json")) {
      seen.json = args.flag();
    } else {
      args.unknown();
    }
  }
  return seen;
}

std::string usage_error(std::vector<std::string> argv) {
  try {
    parse(std::move(argv));
  } catch (const cli::UsageError& e) {
    return e.what();
  }
  return "no error";
}

TEST(CliArgs, TakesAValueEitherWay) {
  EXPECT_EQ(parse({"--depth", "64"}).depth, "64");
  EXPECT_EQ(parse({"--depth=64"}).depth, "64");
  EXPECT_EQ(parse({"--depth="}).depth, "");
  EXPECT_TRUE(parse({"--json", "--depth", "8"}).json);
}

TEST(CliArgs, SaysWhatIsWrong) {
  EXPECT_EQ(usage_error({"--depth"}), "--depth needs a value");
  EXPECT_EQ(usage_error({"--json=yes"}), "--json takes no value");
  EXPECT_EQ(usage_error({"--frob"}), "unknown option '--frob' (see --help)");
  EXPECT_EQ(usage_error({"--frob=1"}), "unknown option '--frob=1' (see --help)");
}

TEST(CliArgs, StopsAtTheDoubleDash) {
  cli::Args args(std::vector<std::string>{"--json", "--", "--depth", "x"});
  ASSERT_TRUE(args.next());
  EXPECT_TRUE(args.is("--json"));
  EXPECT_FALSE(args.next());
  EXPECT_EQ(args.rest(), (std::vector<std::string>{"--depth", "x"}));
}

TEST(CliSize, SameSuffixesEverywhere) {
  EXPECT_EQ(cli::parse_size("4096"), 4096u);
  EXPECT_EQ(cli::parse_size("64K"), 64u << 10);
  EXPECT_EQ(cli::parse_size("64k"), 64u << 10);
  EXPECT_EQ(cli::parse_size("512M"), 512u << 20);
  EXPECT_EQ(cli::parse_size("2G"), std::uint64_t{2} << 30);
  EXPECT_EQ(cli::parse_size("1T"), std::uint64_t{1} << 40);
  for (const char* bad : {"", "K", "1.5M", "-1", "12Q", "1KB", " 1", "16777216T"}) {
    EXPECT_FALSE(cli::parse_size(bad)) << bad;
  }
}

TEST(CliSize, OneWordingForABadSize) {
  EXPECT_EQ(cli::bad_size("--size", "12Q"), "bad --size '12Q': want a size such as 64K, 512M or 1G (suffixes K, M, G, T)");
  EXPECT_EQ(cli::bad_size("--size", "1K", "at least 4M"),
            "bad --size '1K': want a size such as 64K, 512M or 1G (suffixes K, M, G, T), at least 4M");
}

TEST(CliProgram, VersionFromTheOnePlace) {
  EXPECT_EQ(cli::version_line("soak"), std::string("soak ") + UBLKPOOL_VERSION_STRING);
  EXPECT_EQ(cli::program_name("/x/build/bin/ublk-pool-mem", "f"), "ublk-pool-mem");
  EXPECT_EQ(cli::program_name(nullptr, "fallback"), "fallback");
}

}  // namespace
