// adapter_bench: the cost of one acquire+release through each adapter, next to the same
// allocation made by calling the wrapped allocator directly. 1 thread, 4096-aligned, no touch.
//
//   build/bin/adapter_bench [--benchmark_filter=...]
//
// The direct jemalloc and mimalloc calls go to the very libraries the plugins loaded (found with
// dlopen RTLD_NOLOAD), not to anything linked into this binary.
#include <benchmark/benchmark.h>

#include "cli/benchmark_args.hpp"
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory_resource>
#include <mutex>
#include <string>

#include <boost/pool/pool.hpp>

#include "adapters/boost_pool_provider.hpp"
#include "adapters/pmr_provider.hpp"
#include "adapters/provider_memory_resource.hpp"
#include "adapters/registration.hpp"
#include "pool/size_class_pool.hpp"

namespace {

constexpr std::size_t kAlign = 4096;

adapters::ProviderConfig bench_config() {
  adapters::ProviderConfig config;
  config.max_length = std::size_t{1} << 20;
  config.byte_limit = 0;
  return config;
}

pool::Registry& providers() {
  static pool::Registry registry;
  static const bool loaded = [] {
    auto report = adapters::register_builtin_providers(registry, bench_config());
    for (const auto& s : report.skipped) std::fprintf(stderr, "adapter_bench: %s\n", s.c_str());
    auto slab = adapters::load_provider_plugin(
        adapters::plugin_directory(bench_config()) / "libublkpool_example_slab.so", registry, bench_config());
    if (!slab) std::fprintf(stderr, "adapter_bench: %s\n", slab.message.c_str());
    pool::PoolConfig pc;
    pc.max_buffer_size = bench_config().max_length;
    registry.add("pool", pool::make_pool(pc));
    return true;
  }();
  (void)loaded;
  return registry;
}

void* symbol(const char* library, const char* name) {
  void* handle = dlopen(library, RTLD_NOW | RTLD_NOLOAD);
  return handle ? dlsym(handle, name) : nullptr;
}

void provider_round_trip(benchmark::State& state, const std::string& name) {
  auto provider = providers().find(name);
  if (!provider) return state.SkipWithError(("provider not registered: " + name).c_str());
  const auto length = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    auto b = provider->acquire(length, kAlign);
    benchmark::DoNotOptimize(b);
    if (!b) return state.SkipWithError("acquire failed");
    (void)provider->release(*b);
  }
}

void cache_round_trip(benchmark::State& state, const std::string& name) {
  auto provider = providers().find(name);
  if (!provider) return state.SkipWithError(("provider not registered: " + name).c_str());
  auto cache = provider->make_cache();
  const auto length = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    auto b = cache->acquire(length, kAlign);
    benchmark::DoNotOptimize(b);
    if (!b) return state.SkipWithError("acquire failed");
    (void)cache->release(*b);
  }
}

// --- direct calls of the wrapped allocators ---

void direct_glibc(benchmark::State& state) {
  const auto length = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    void* p = nullptr;
    if (posix_memalign(&p, kAlign, length) != 0) return state.SkipWithError("posix_memalign failed");
    benchmark::DoNotOptimize(p);
    std::free(p);
  }
}

void direct_pmr(benchmark::State& state, std::pmr::memory_resource* resource) {
  const auto length = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    void* p = resource->allocate(length, kAlign);
    benchmark::DoNotOptimize(p);
    resource->deallocate(p, length, kAlign);
  }
}

void direct_pmr_pool(benchmark::State& state) {
  std::pmr::synchronized_pool_resource resource(std::pmr::pool_options{0, bench_config().max_length});
  direct_pmr(state, &resource);
}

struct PageAlignedBlocks {
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  static char* malloc(size_type bytes) {
    void* p = nullptr;
    return posix_memalign(&p, kAlign, bytes) == 0 ? static_cast<char*>(p) : nullptr;
  }
  static void free(char* block) { std::free(block); }
};

void direct_boost_pool(benchmark::State& state) {
  const auto length = static_cast<std::size_t>(state.range(0));
  boost::pool<PageAlignedBlocks> pool(length);
  for (auto _ : state) {
    void* p = pool.malloc();
    benchmark::DoNotOptimize(p);
    pool.free(p);
  }
}

void direct_boost_pool_locked(benchmark::State& state) {
  const auto length = static_cast<std::size_t>(state.range(0));
  boost::pool<PageAlignedBlocks> pool(length);
  std::mutex mutex;
  for (auto _ : state) {
    void* p = nullptr;
    {
      std::lock_guard lock(mutex);
      p = pool.malloc();
    }
    benchmark::DoNotOptimize(p);
    std::lock_guard lock(mutex);
    pool.free(p);
  }
}

void direct_jemalloc(benchmark::State& state) {
  (void)providers();  // loads the jemalloc plugin, and with it libjemalloc
  using mallctl_fn = int (*)(const char*, void*, std::size_t*, void*, std::size_t);
  using mallocx_fn = void* (*)(std::size_t, int);
  using sdallocx_fn = void (*)(void*, std::size_t, int);
  auto mallctl = reinterpret_cast<mallctl_fn>(symbol("libjemalloc.so.2", "mallctl"));
  auto mallocx = reinterpret_cast<mallocx_fn>(symbol("libjemalloc.so.2", "mallocx"));
  auto sdallocx = reinterpret_cast<sdallocx_fn>(symbol("libjemalloc.so.2", "sdallocx"));
  if (!mallctl || !mallocx || !sdallocx) return state.SkipWithError("libjemalloc is not loaded");
  unsigned arena = 0;
  std::size_t size = sizeof(arena);
  if (mallctl("arenas.create", &arena, &size, nullptr, 0) != 0) return state.SkipWithError("arenas.create");
  // MALLOCX_ARENA(a) | MALLOCX_ALIGN(4096) | MALLOCX_TCACHE_NONE, as in jemalloc.h.
  const int flags = static_cast<int>((arena + 1) << 20) | 12 | ((-1 + 2) << 8);
  const auto length = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    void* p = mallocx(length, flags);
    benchmark::DoNotOptimize(p);
    sdallocx(p, length, flags);
  }
}

void direct_mimalloc(benchmark::State& state) {
  (void)providers();
  using alloc_fn = void* (*)(std::size_t, std::size_t);
  using free_fn = void (*)(void*);
  auto alloc = reinterpret_cast<alloc_fn>(symbol("libmimalloc.so.2", "mi_malloc_aligned"));
  auto release = reinterpret_cast<free_fn>(symbol("libmimalloc.so.2", "mi_free"));
  if (!alloc || !release) return state.SkipWithError("libmimalloc is not loaded");
  const auto length = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    void* p = alloc(length, kAlign);
    benchmark::DoNotOptimize(p);
    release(p);
  }
}

void direct_pool(benchmark::State& state) {
  auto pool = std::dynamic_pointer_cast<pool::SizeClassPool>(providers().find("pool"));
  const auto length = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    auto b = pool->acquire(length, kAlign);
    benchmark::DoNotOptimize(b);
    (void)pool->release(*b);
  }
}

void reverse_pmr_over_pool(benchmark::State& state) {
  adapters::ProviderMemoryResource resource(providers().find("pool"));
  direct_pmr(state, &resource);
}

void register_all() {
  auto sizes = [](benchmark::internal::Benchmark* b) { b->Arg(4096)->Arg(65536)->Arg(1 << 20); };
  auto provider = [&](const std::string& label, const std::string& name) {
    sizes(benchmark::RegisterBenchmark(("adapter/" + label).c_str(), provider_round_trip, name));
  };
  sizes(benchmark::RegisterBenchmark("direct/glibc_posix_memalign", direct_glibc));
  sizes(benchmark::RegisterBenchmark("direct/pmr_new_delete", direct_pmr, std::pmr::new_delete_resource()));
  provider("pmr", "pmr");
  sizes(benchmark::RegisterBenchmark("direct/pmr_synchronized_pool", direct_pmr_pool));
  provider("pmr_pool", "pmr_pool");
  sizes(benchmark::RegisterBenchmark("direct/boost_pool_unlocked", direct_boost_pool));
  sizes(benchmark::RegisterBenchmark("direct/boost_pool_with_mutex", direct_boost_pool_locked));
  provider("boost_pool", "boost_pool");
  sizes(benchmark::RegisterBenchmark("direct/jemalloc_mallocx_arena", direct_jemalloc));
  provider("jemalloc", "jemalloc");
  sizes(benchmark::RegisterBenchmark("direct/mimalloc_mi_malloc_aligned", direct_mimalloc));
  provider("mimalloc", "mimalloc");
  sizes(benchmark::RegisterBenchmark("adapter/mimalloc_cache", cache_round_trip, std::string("mimalloc")));
  provider("example_slab", "example_slab");
  sizes(benchmark::RegisterBenchmark("direct/libpool_acquire_release", direct_pool));
  sizes(benchmark::RegisterBenchmark("adapter/pmr_over_libpool", reverse_pmr_over_pool));
}

std::string malloc_owner() {
  Dl_info info{};
  if (!dladdr(dlsym(RTLD_DEFAULT, "malloc"), &info) || !info.dli_fname) return "unknown";
  return info.dli_fname;
}

}  // namespace

constexpr std::string_view kUsage =
    "usage: adapter_bench [--benchmark_FLAG=VALUE ...]\n"
    "Times each adapter's acquire+release beside a direct call of the allocator it wraps, at\n"
    "4 KiB, 64 KiB and 1 MiB, 4096-aligned, one thread. jemalloc and mimalloc are loaded from their\n"
    "plugins (UBLKPOOL_PLUGIN_DIR, else <exe>/../lib).\n"
    "  --benchmark_filter=REGEX  --benchmark_min_time=SECONDS  --benchmark_format=json\n"
    "                      Google Benchmark's flags (all of them follow)\n"
    "  -h, --help          this text\n"
    "  --version           the version\n"
    "Exit 0 after a run, 2 for a bad command line (docs/cli.md).\n\n";

int main(int argc, char** argv) {
  int exit_code = 0;
  const auto front = cli::benchmark_front(argc, argv, "adapter_bench", kUsage, exit_code);
  if (!front) return exit_code;
  if (*front == cli::BenchmarkFront::kHelp) {
    benchmark::Initialize(&argc, argv);  // prints its own flags for --help, and exits
    return 0;
  }
  adapters::ensure_static_tls_for_plugins(argv);
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  (void)providers();
  benchmark::AddCustomContext("process_malloc", malloc_owner());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
