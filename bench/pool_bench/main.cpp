// pool_bench: libpool's acquire+release against glibc, jemalloc, mimalloc and
// std::pmr::synchronized_pool_resource, alloc+free and alloc+first-touch, 1 and 2 threads.
// Prints Google Benchmark's table, then a summary with the ratios (pool Cache vs the others).
// The summary uses CPU time per pair: on a shared machine, real time also counts the time the
// thread waited for a core.
#include <benchmark/benchmark.h>

#include "cli/benchmark_args.hpp"
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "competitors.hpp"
#include "pool/size_class_pool.hpp"

namespace {

using namespace pool_bench;

constexpr std::size_t kSizes[] = {4096, 16384, 65536, 262144, 1 << 20};
constexpr const char* kStaticTlsTunable = "glibc.rtld.optional_static_tls=65536";

long thread_page_faults() {
  rusage usage{};
  ::getrusage(RUSAGE_THREAD, &usage);
  return usage.ru_minflt + usage.ru_majflt;
}

// One acquire+release pair per iteration; `touch` writes the whole buffer in between, the way
// an IO fills it. A warm-up pair first, so a pool's buffer is already in place.
template <class Allocator>
void round_trips(benchmark::State& state, Allocator& allocator, std::size_t size, bool touch) {
  void* warm = allocator.acquire(size);
  if (!warm) {
    state.SkipWithError("allocation failed");
    return;
  }
  if (touch) std::memset(warm, 1, size);
  allocator.release(warm, size);

  const long faults_before = thread_page_faults();
  for (auto _ : state) {
    void* p = allocator.acquire(size);
    if (touch) std::memset(p, 0x5a, size);
    benchmark::DoNotOptimize(p);
    allocator.release(p, size);
    benchmark::ClobberMemory();
  }
  state.counters["faults"] = benchmark::Counter(static_cast<double>(thread_page_faults() - faults_before),
                                                benchmark::Counter::kAvgIterations);
}

struct Result {
  double ns = 0;
  double faults = 0;
};

// The console table, plus a summary of ns per pair and ratios at the end.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  SummaryReporter() : ConsoleReporter(::isatty(1) ? OO_ColorTabular : OO_Tabular) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& run : runs) {
      if (run.error_occurred || run.run_type != Run::RT_Iteration) continue;
      Result r{run.GetAdjustedCPUTime(), 0};
      if (auto it = run.counters.find("faults"); it != run.counters.end()) r.faults = it->second.value;
      std::string key = run.benchmark_name();
      if (auto at = key.find("/min_time:"); at != std::string::npos) key.erase(at, key.find('/', at + 1) - at);
      results_[key] = r;
    }
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    const char* allocators[] = {"pool_cache", "pool", "glibc", "jemalloc", "mimalloc", "pmr_sync"};
    for (const char* mode : {"alloc_free", "alloc_touch"}) {
      for (int threads : {1, 2}) {
        std::printf("\n%s, %d thread%s: CPU ns per acquire+release pair (page faults per pair)\n", mode, threads,
                    threads > 1 ? "s" : "");
        std::printf("%-8s", "size");
        for (const char* a : allocators) std::printf(" %20s", a);
        std::printf(" %11s %11s\n", "glibc/pool", "jemal/pool");
        for (std::size_t size : kSizes) {
          std::printf("%-8s", label(size).c_str());
          for (const char* a : allocators) {
            auto it = results_.find(name(mode, a, size, threads));
            if (it == results_.end()) {
              std::printf(" %20s", "-");
              continue;
            }
            char cell[64];
            std::snprintf(cell, sizeof cell, "%.1f (%.3g)", it->second.ns, it->second.faults);
            std::printf(" %20s", cell);
          }
          auto ratio = [&](const char* other) {
            auto p = results_.find(name(mode, "pool_cache", size, threads));
            auto o = results_.find(name(mode, other, size, threads));
            return p == results_.end() || o == results_.end() ? 0.0 : o->second.ns / p->second.ns;
          };
          std::printf(" %10.1fx %10.1fx\n", ratio("glibc"), ratio("jemalloc"));
        }
      }
    }
  }

  static std::string label(std::size_t size) {
    return size >= (1 << 20) ? std::to_string(size >> 20) + "M" : std::to_string(size >> 10) + "K";
  }
  static std::string name(const std::string& mode, const std::string& allocator, std::size_t size, int threads) {
    return mode + "/" + allocator + "/" + label(size) + "/real_time/threads:" + std::to_string(threads);
  }

 private:
  std::map<std::string, Result> results_;
};

template <class MakeAllocator>
void add(const std::string& allocator, MakeAllocator make) {
  for (const bool touch : {false, true}) {
    for (std::size_t size : kSizes) {
      const std::string name = std::string(touch ? "alloc_touch/" : "alloc_free/") + allocator + "/" +
                               SummaryReporter::label(size);
      benchmark::RegisterBenchmark(name.c_str(),
                                   [make, size, touch](benchmark::State& state) {
                                     auto allocator = make();
                                     round_trips(state, *allocator, size, touch);
                                   })
          ->Threads(1)
          ->Threads(2)
          ->UseRealTime()
          ->MinTime(0.2);
    }
  }
}

constexpr std::string_view kUsage =
    "usage: pool_bench [--benchmark_FLAG=VALUE ...]\n"
    "Times one acquire+release pair of 4K..1M 4096-aligned buffers: libpool (direct and through a\n"
    "per-thread Cache), glibc posix_memalign, jemalloc mallocx, mimalloc mi_malloc_aligned and\n"
    "std::pmr::synchronized_pool_resource; alloc+free and alloc+first-touch; 1 and 2 threads.\n"
    "The 'faults' counter is page faults per pair (getrusage). A summary with ratios follows.\n"
    "  --benchmark_filter=REGEX  --benchmark_min_time=SECONDS  --benchmark_out=FILE\n"
    "  --benchmark_out_format=json\n"
    "                      Google Benchmark's flags (all of them follow)\n"
    "  -h, --help          this text\n"
    "  --version           the version\n"
    "Environment: POOL_BENCH_BACKING=auto|hugetlb|thp|none (default auto).\n"
    "Exit 0 after a run, 1 when it cannot measure, 2 for a bad command line (docs/cli.md).\n\n";

pool::BackingPolicy backing_from_env() {
  const char* value = std::getenv("POOL_BENCH_BACKING");
  const std::string v = value ? value : "auto";
  if (v == "auto") return pool::BackingPolicy::automatic;
  if (v == "hugetlb") return pool::BackingPolicy::hugetlb;
  if (v == "thp") return pool::BackingPolicy::thp;
  if (v == "none") return pool::BackingPolicy::none;
  std::fprintf(stderr, "pool_bench: bad POOL_BENCH_BACKING '%s': want auto, hugetlb, thp or none\n", value);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  int exit_code = 0;
  const auto front = cli::benchmark_front(argc, argv, "pool_bench", kUsage, exit_code);
  if (!front) return exit_code;
  if (*front == cli::BenchmarkFront::kHelp) {
    benchmark::Initialize(&argc, argv);  // prints its own flags for --help, and exits
    return 0;
  }
  // libjemalloc needs static TLS to be dlopen()ed: restart once with a bigger surplus.
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (!tunables || !std::strstr(tunables, "optional_static_tls")) {
    std::string value = tunables ? std::string(tunables) + ":" + kStaticTlsTunable : kStaticTlsTunable;
    ::setenv("GLIBC_TUNABLES", value.c_str(), 1);
    ::execv("/proc/self/exe", argv);
    std::fprintf(stderr, "pool_bench: cannot re-execute itself (%s); jemalloc will be skipped\n", std::strerror(errno));
  }

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;

  if (!check_glibc_malloc()) {
    std::fprintf(stderr, "pool_bench: posix_memalign resolves to %s, not glibc: the glibc column would lie\n",
                 posix_memalign_origin().c_str());
    return 1;
  }
  static const DlAllocators dl = load_competitors();

  pool::PoolConfig config;
  config.backing = backing_from_env();
  static auto shared_pool = pool::make_pool(config);
  static std::pmr::synchronized_pool_resource pmr_pool(
      std::pmr::pool_options{0, std::size_t{1} << 20}, std::pmr::new_delete_resource());

  add("pool_cache", [] { return std::make_unique<PoolCache>(*shared_pool); });
  add("pool", [] { return std::make_unique<PoolDirect>(PoolDirect{shared_pool.get()}); });
  add("glibc", [] { return std::make_unique<Glibc>(); });
  if (dl.mallocx) add("jemalloc", [] { return std::make_unique<Jemalloc>(Jemalloc{&dl}); });
  if (dl.mi_malloc_aligned) add("mimalloc", [] { return std::make_unique<Mimalloc>(Mimalloc{&dl}); });
  add("pmr_sync", [] { return std::make_unique<Pmr>(Pmr{&pmr_pool}); });

  std::printf("pool_bench: glibc posix_memalign from %s; jemalloc %s; mimalloc %s (both dlopen()ed privately)\n",
              posix_memalign_origin().c_str(), dl.mallocx ? "loaded" : dl.jemalloc_error.c_str(),
              dl.mi_malloc_aligned ? "loaded" : dl.mimalloc_error.c_str());

  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);

  const auto stats = shared_pool->stats();
  std::printf("\npool backing: hugetlb %llu MiB, thp %llu MiB, 4K pages %llu MiB\n",
              static_cast<unsigned long long>(stats->backing.hugetlb_bytes >> 20),
              static_cast<unsigned long long>(stats->backing.thp_bytes >> 20),
              static_cast<unsigned long long>(stats->backing.small_page_bytes >> 20));
  benchmark::Shutdown();
  return 0;
}
