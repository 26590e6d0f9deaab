#include "adapters/registration.hpp"

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "provider_contract.hpp"

namespace adapters {
namespace {

TEST(Registration, RegistersEveryBuiltInProvider) {
  pool::Registry registry;
  auto report = register_builtin_providers(registry, testing::test_config());
  std::string skipped;
  for (const auto& s : report.skipped) skipped += s + "\n";
  EXPECT_TRUE(report.skipped.empty()) << skipped;
  EXPECT_EQ(report.registered, builtin_provider_names());
  for (const auto& name : builtin_provider_names()) {
    auto provider = registry.find(name);
    ASSERT_NE(provider, nullptr) << name;
    EXPECT_EQ(provider->name(), name);
    EXPECT_EQ(provider->max_length(), testing::test_config().max_length);
  }
}

TEST(Registration, ASecondCallReportsTakenNames) {
  pool::Registry registry;
  register_builtin_providers(registry, testing::test_config());
  auto again = register_builtin_providers(registry, testing::test_config());
  EXPECT_TRUE(again.registered.empty());
  EXPECT_EQ(again.skipped.size(), builtin_provider_names().size());
}

TEST(Registration, AMissingPluginDirectoryIsReportedNotFatal) {
  pool::Registry registry;
  auto config = testing::test_config();
  config.plugin_dir = "/nonexistent";
  auto report = register_builtin_providers(registry, config);
  EXPECT_EQ(report.registered, (std::vector<std::string>{"pmr", "pmr_pool", "boost_pool"}));
  ASSERT_EQ(report.skipped.size(), 2u);
  EXPECT_NE(report.skipped[0].find("jemalloc: provider plugin '/nonexistent/libublkpool_jemalloc.so': no such file"),
            std::string::npos) << report.skipped[0];
}

// The interposition trap: after the jemalloc and mimalloc plugins are loaded, malloc in this
// process must still be the one it started with, not jemalloc's or mimalloc's.
TEST(Registration, PluginAllocatorsDoNotTakeOverMalloc) {
  (void)testing::provider_named("jemalloc");
  (void)testing::provider_named("mimalloc");
  void* process_malloc = dlsym(RTLD_DEFAULT, "malloc");
  ASSERT_NE(process_malloc, nullptr);
  for (const char* lib : {"libjemalloc.so.2", "libmimalloc.so.2"}) {
    void* handle = dlopen(lib, RTLD_NOW | RTLD_NOLOAD);
    ASSERT_NE(handle, nullptr) << lib << " is not loaded";
    EXPECT_NE(dlsym(handle, "malloc"), process_malloc) << lib << " took over malloc";
    dlclose(handle);
  }
  EXPECT_EQ(dlsym(RTLD_DEFAULT, "mallocx"), nullptr) << "jemalloc's symbols reached the global scope";
  EXPECT_EQ(dlsym(RTLD_DEFAULT, "mi_malloc"), nullptr) << "mimalloc's symbols reached the global scope";
}

// A forked child calls it; exit 42 means it returned and left the variable as it was. Had it
// re-executed, the child would have become a fresh adapters_test running no test (exit 0).
[[noreturn]] void call_ensure_then_exit(const char* tunables) {
  if (tunables) {
    ::setenv("GLIBC_TUNABLES", tunables, 1);
  } else {
    ::unsetenv("GLIBC_TUNABLES");
  }
  char self[] = "/proc/self/exe";
  char filter[] = "--gtest_filter=NoSuchSuite.NoSuchTest";
  char* argv[] = {self, filter, nullptr};
  ensure_static_tls_for_plugins(argv);
  const char* after = std::getenv("GLIBC_TUNABLES");
  std::_Exit(after && tunables && std::string(after) == tunables ? 42 : 43);
}

TEST(Registration, EnsureStaticTlsLeavesASetTunableAlone) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(call_ensure_then_exit("glibc.rtld.optional_static_tls=16384"), ::testing::ExitedWithCode(42), "");
  EXPECT_EXIT(call_ensure_then_exit("glibc.malloc.check=0:glibc.rtld.optional_static_tls=8192"),
              ::testing::ExitedWithCode(42), "");
}

// The other half: without the tunable it does re-execute (the child ends as the fresh process
// does, exit 0, and never reaches the _Exit(42 or 43) after the call).
TEST(Registration, EnsureStaticTlsReExecutesWithoutTheTunable) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(call_ensure_then_exit(nullptr), ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace adapters
