// Bad input to the plugin loader: each gives a clear one-line error, never a crash.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <algorithm>
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

struct Tally {  // c_allocator_plugin.c's struct tally
  std::size_t allocs, frees, last_freed_length;
  std::size_t table_acquires, table_releases, table_bytes_in_use, table_destroyed;
  int refused_unknown_version, refused_without_release;
};

// The C fixture, loaded into `registry`, and its counters.
const Tally& load_c_plugin(pool::Registry& registry) {
  const auto path = lib_dir() / "libublkpool_c_allocator_plugin.so";
  auto r = load_provider_plugin(path, registry, testing::test_config());
  EXPECT_TRUE(r) << r.message;
  std::sort(r.providers.begin(), r.providers.end());
  EXPECT_EQ(r.providers, (std::vector<std::string>{"c_table", "c_tally"}));
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  EXPECT_NE(handle, nullptr);
  auto tally_fn = reinterpret_cast<const Tally* (*)()>(dlsym(handle, "c_plugin_tally"));
  EXPECT_NE(tally_fn, nullptr);
  dlclose(handle);  // only drops the NOLOAD reference: the loader keeps the plugin loaded
  return *tally_fn();
}

// A C plugin registers an alloc/free pair through host->register_allocator: libpool's
// CallbackProvider, seen from the adapters side.
TEST(PluginLoader, ACPluginRegistersAnAllocatorPair) {
  pool::Registry registry;
  const Tally& tally = load_c_plugin(registry);
  const auto allocs_before = tally.allocs, frees_before = tally.frees;

  auto provider = registry.find("c_tally");
  ASSERT_NE(provider, nullptr);
  auto b = provider->acquire(12345, 8192);
  ASSERT_TRUE(b);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b->data) % 8192, 0u);
  EXPECT_EQ(tally.allocs, allocs_before + 1);
  EXPECT_FALSE(provider->release(*b));
  EXPECT_EQ(tally.frees, frees_before + 1);
  EXPECT_EQ(tally.last_freed_length, 12345u);  // the exact length, back to the C free
  EXPECT_EQ(provider->acquire(0).error(), std::make_error_code(std::errc::invalid_argument));
}

// A C plugin fills a provider table (the plain-C ABI): the host wraps it, refuses tables it cannot
// use, passes errors and stats through, and calls destroy once the provider is dropped.
TEST(PluginLoader, ACPluginProvidesATableOfFunctions) {
  pool::Registry registry;
  const Tally& tally = load_c_plugin(registry);
  EXPECT_EQ(tally.refused_unknown_version, -EINVAL);
  EXPECT_EQ(tally.refused_without_release, -EINVAL);
  EXPECT_EQ(registry.find("c_bad_version"), nullptr);
  EXPECT_EQ(registry.find("c_no_release"), nullptr);

  auto provider = registry.find("c_table");
  ASSERT_NE(provider, nullptr);
  EXPECT_EQ(provider->name(), "c_table");
  EXPECT_EQ(provider->max_length(), std::size_t{1} << 20);
  const auto destroyed_before = tally.table_destroyed;
  const auto acquires_before = tally.table_acquires;
  auto cache = provider->make_cache();  // no cache functions: the provider's own acquire/release
  auto b = cache->acquire(5000, 8192);
  ASSERT_TRUE(b);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b->data) % 8192, 0u);
  EXPECT_EQ(b->length, 5000u);
  EXPECT_EQ(b->capacity, 8192u);
  EXPECT_EQ(b->owner, provider.get());
  EXPECT_EQ(tally.table_acquires, acquires_before + 1);
  auto s = provider->stats();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->provider, "c_table");
  EXPECT_EQ(s->bytes_in_use, 8192u);
  ASSERT_EQ(s->classes.size(), 1u);
  EXPECT_EQ(s->classes[0].in_use, 1u);
  EXPECT_EQ(provider->acquire(std::size_t{2} << 20).error(), std::make_error_code(std::errc::invalid_argument));
  EXPECT_FALSE(cache->release(*b));
  EXPECT_EQ(provider->stats()->bytes_in_use, 0u);
  pool::Buffer foreign = *b;
  foreign.owner = nullptr;
  EXPECT_EQ(provider->release(foreign), std::make_error_code(std::errc::invalid_argument));

  cache.reset();
  provider.reset();
  EXPECT_TRUE(registry.remove("c_table"));
  EXPECT_EQ(tally.table_destroyed, destroyed_before + 1);
}

}  // namespace
}  // namespace adapters
