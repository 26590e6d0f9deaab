// Bad input to the plugin loader: each gives a clear one-line error, never a crash.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include "adapters/registration.hpp"
#include "provider_contract.hpp"

namespace adapters {
namespace {

std::filesystem::path lib_dir() { return plugin_directory({}); }

TEST(PluginLoader, APathThatDoesNotExist) {
  pool::Registry registry;
  auto r = load_provider_plugin("/nonexistent/libnothing.so", registry);
  EXPECT_FALSE(r);
  EXPECT_EQ(r.error, PluginError::not_found);
  EXPECT_NE(r.message.find("/nonexistent/libnothing.so"), std::string::npos);
  EXPECT_NE(r.message.find("no such file"), std::string::npos);
  EXPECT_EQ(load_provider_plugin("", registry).error, PluginError::not_found);
  EXPECT_EQ(load_provider_plugin("/tmp", registry).error, PluginError::not_found);  // a directory
}

TEST(PluginLoader, AFileThatIsNotASharedObject) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("ublkpool_not_a_plugin." + std::to_string(::getpid()) + ".so");
  std::ofstream(path) << "not an ELF file\n";
  pool::Registry registry;
  auto r = load_provider_plugin(path, registry);
  EXPECT_EQ(r.error, PluginError::not_loadable);
  EXPECT_NE(r.message.find("cannot load"), std::string::npos) << r.message;
  std::filesystem::remove(path);
}

TEST(PluginLoader, ASharedObjectWithoutTheSymbol) {
  pool::Registry registry;
  auto r = load_provider_plugin(lib_dir() / "libublkpool_no_symbol_plugin.so", registry);
  EXPECT_EQ(r.error, PluginError::symbol_missing) << r.message;
  EXPECT_NE(r.message.find("ublkpool_plugin_register"), std::string::npos);
  EXPECT_TRUE(registry.names().empty());
}

TEST(PluginLoader, AFailedRegistrationLeavesNothingRegistered) {
  pool::Registry registry;
  auto r = load_provider_plugin(lib_dir() / "libublkpool_failing_plugin.so", registry);
  EXPECT_EQ(r.error, PluginError::registration_failed);
  EXPECT_NE(r.message.find("the fixture always fails"), std::string::npos) << r.message;
  EXPECT_EQ(registry.find("half_registered"), nullptr);
}

TEST(PluginLoader, TheExamplePluginRegistersItsProvider) {
  pool::Registry registry;
  auto r = load_provider_plugin(lib_dir() / "libublkpool_example_slab.so", registry, testing::test_config());
  ASSERT_TRUE(r) << r.message;
  EXPECT_EQ(r.providers, std::vector<std::string>{"example_slab"});
  auto provider = registry.find("example_slab");
  ASSERT_NE(provider, nullptr);
  auto b = provider->acquire(4096);
  ASSERT_TRUE(b);
  EXPECT_FALSE(provider->release(*b));
  // Loading it again is a name clash, reported as a failed registration.
  auto again = load_provider_plugin(lib_dir() / "libublkpool_example_slab.so", registry, testing::test_config());
  EXPECT_EQ(again.error, PluginError::registration_failed);
  EXPECT_NE(again.message.find("already registered"), std::string::npos) << again.message;
  EXPECT_NE(registry.find("example_slab"), nullptr);  // the first one stays
}

TEST(ProviderLookup, AnUnknownNameListsTheKnownOnes) {
  pool::Registry registry;
  auto none = find_provider(registry, "nope");
  EXPECT_FALSE(none);
  EXPECT_EQ(none.message, "unknown provider 'nope' (registered: none)");
  register_builtin_providers(registry, testing::test_config());
  auto unknown = find_provider(registry, "tcmalloc");
  EXPECT_FALSE(unknown);
  EXPECT_NE(unknown.message.find("unknown provider 'tcmalloc'"), std::string::npos);
  EXPECT_NE(unknown.message.find("boost_pool"), std::string::npos);
  EXPECT_TRUE(find_provider(registry, "pmr"));
}

}  // namespace
}  // namespace adapters

namespace adapters {
namespace {

struct Tally {
  std::size_t allocs, frees, last_freed_length;
};

// A C plugin registers an alloc/free pair through host->register_allocator: libpool's
// CallbackProvider, seen from the adapters side.
TEST(PluginLoader, ACPluginRegistersAnAllocatorPair) {
  pool::Registry registry;
  const auto path = lib_dir() / "libublkpool_c_allocator_plugin.so";
  auto r = load_provider_plugin(path, registry, testing::test_config());
  ASSERT_TRUE(r) << r.message;
  EXPECT_EQ(r.providers, std::vector<std::string>{"c_tally"});
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  ASSERT_NE(handle, nullptr);
  auto tally_fn = reinterpret_cast<const Tally* (*)()>(dlsym(handle, "c_plugin_tally"));
  ASSERT_NE(tally_fn, nullptr);
  const Tally& tally = *tally_fn();

  auto provider = registry.find("c_tally");
  ASSERT_NE(provider, nullptr);
  auto b = provider->acquire(12345, 8192);
  ASSERT_TRUE(b);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b->data) % 8192, 0u);
  EXPECT_EQ(tally.allocs, 1u);
  EXPECT_FALSE(provider->release(*b));
  EXPECT_EQ(tally.frees, 1u);
  EXPECT_EQ(tally.last_freed_length, 12345u);  // the exact length, back to the C free
  EXPECT_EQ(provider->acquire(0).error(), std::make_error_code(std::errc::invalid_argument));
  dlclose(handle);
}

}  // namespace
}  // namespace adapters
