// The two native costs of the NEED_GET_DATA trade-off (docs/bench.md):
//   memcpy/<bytes>           the application's copy that get_data saves, from a source and into a
//                            destination chosen from working sets 8x the L3, so that it pays for
//                            memory bandwidth as a copy into a fresh buffer does;
//   io_uring_nop_round_trip  one io_uring_enter that submits one request and reaps it: the floor
//                            of the extra round trip that get_data pays (UBLK_IO_NEED_GET_DATA).

#include <benchmark/benchmark.h>

#include "cli/benchmark_args.hpp"
#include <liburing.h>
#include <sys/mman.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace {

// Each working set is 8x this machine class's 32 MiB L3.
constexpr std::size_t kWorkingSet = std::size_t{256} << 20;

class Mapping {
 public:
  explicit Mapping(std::size_t bytes) : bytes_(bytes) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap");
    data_ = static_cast<std::byte*>(p);
    // Touch every page: first-touch faults are not what a memcpy costs.
    std::memset(data_, 0x5a, bytes);
  }
  ~Mapping() { munmap(data_, bytes_); }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  std::byte* data() const { return data_; }

 private:
  std::byte* data_ = nullptr;
  std::size_t bytes_;
};

class Ring {
 public:
  Ring() {
    if (int rc = io_uring_queue_init(8, &ring_, 0); rc < 0) {
      throw std::system_error(-rc, std::generic_category(), "io_uring_queue_init");
    }
  }
  ~Ring() { io_uring_queue_exit(&ring_); }
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  io_uring* get() { return &ring_; }

 private:
  io_uring ring_{};
};

void memcpy_cold(benchmark::State& state) {
  static Mapping source(kWorkingSet);
  static Mapping destination(kWorkingSet);
  const auto block = static_cast<std::size_t>(state.range(0));
  const std::size_t slots = kWorkingSet / block;
  // A stride coprime with the slot count visits every slot before any repeats, and jumps far
  // enough that the hardware prefetcher cannot run ahead into the next block.
  const std::size_t stride = slots > 7 ? slots / 2 + 1 : 1;
  std::size_t from = 0;
  std::size_t to = slots / 3;
  for (auto _ : state) {
    std::memcpy(destination.data() + to * block, source.data() + from * block, block);
    benchmark::ClobberMemory();
    from = (from + stride) % slots;
    to = (to + stride) % slots;
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * block));
}
BENCHMARK(memcpy_cold)->Name("memcpy")->RangeMultiplier(2)->Range(4 << 10, 1 << 20)->Unit(benchmark::kMicrosecond);

void io_uring_nop_round_trip(benchmark::State& state) {
  Ring ring;
  for (auto _ : state) {
    io_uring_sqe* sqe = io_uring_get_sqe(ring.get());
    io_uring_prep_nop(sqe);
    if (io_uring_submit_and_wait(ring.get(), 1) != 1) {
      state.SkipWithError("io_uring_submit_and_wait failed");
      break;
    }
    io_uring_cqe* cqe = nullptr;
    if (io_uring_peek_cqe(ring.get(), &cqe) != 0 || cqe->res != 0) {
      state.SkipWithError("io_uring NOP did not complete");
      break;
    }
    io_uring_cqe_seen(ring.get(), cqe);
  }
}
BENCHMARK(io_uring_nop_round_trip)->Unit(benchmark::kMicrosecond);

}  // namespace

namespace {

constexpr std::string_view kUsage =
    "usage: cost_model [--benchmark_FLAG=VALUE ...]\n"
    "Measures the two native costs of the NEED_GET_DATA trade-off on this machine:\n"
    "  memcpy/BYTES             one memcpy of BYTES (4K..1M) between buffers chosen from 256 MiB\n"
    "                           working sets (larger than the L3), as a copy into a fresh buffer\n"
    "                           costs: what get_data saves the application\n"
    "  io_uring_nop_round_trip  one io_uring_enter that submits a NOP and reaps it: the floor of\n"
    "                           the extra round trip get_data pays (UBLK_IO_NEED_GET_DATA)\n"
    "memcpy_vs_getdata runs it with --benchmark_format=json and reads the result (docs/bench.md).\n"
    "  --benchmark_filter=REGEX  --benchmark_min_time=SECONDS  --benchmark_format=json\n"
    "                           Google Benchmark's flags (all of them follow)\n"
    "  -h, --help               this text\n"
    "  --version                the version\n"
    "Exit 0 after a run, 2 for a bad command line (docs/cli.md).\n\n";

}  // namespace

int main(int argc, char** argv) {
  int exit_code = 0;
  const auto front = cli::benchmark_front(argc, argv, "cost_model", kUsage, exit_code);
  if (!front) return exit_code;
  benchmark::Initialize(&argc, argv);  // for --help: prints its own flags, and exits
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
