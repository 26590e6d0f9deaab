#pragma once
// The shared state of a SizeClassPool: central per-class free lists, chunks and regions.
//
// Memory layout: a region is one mapping (os_memory). A chunk is a run of 2 MiB granules of a
// region that serves one size class, cut into equal buffers. Regions are one chunk each, except
// 1 GiB hugetlb regions, which hold many. The ChunkMap finds a buffer's chunk from its address.
//
// Locks, always taken in this order: a class's mutex, then caches_mutex_ or region_mutex_.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <vector>

#include "pool/detail/chunk.hpp"
#include "free_list.hpp"
#include "os_memory.hpp"
#include "pool/size_class_pool.hpp"

namespace pool::detail {

struct Region {
  os::MappedRegion mapping;
  std::vector<bool> granule_used;
  std::size_t granules_used = 0;
  // Its index in the io_uring registration, or -1. Read without a lock by fixed_buffer().
  std::atomic<int> fixed_index{-1};
};

struct alignas(64) ClassState {
  std::mutex mutex;
  FreeList free;
  std::size_t free_count = 0;
  std::vector<Chunk*> chunks;
  std::uint64_t out = 0;            // buffers off the central list
  std::uint64_t cached = 0;         // of those, in caches as last reported by them
  std::uint64_t direct_hits = 0;    // direct acquisitions served from the list
  std::uint64_t misses = 0;         // direct acquisitions and refills that mapped a chunk or failed
  std::uint64_t direct_acquires = 0;
  std::uint64_t peak = 0;
};

class PoolCore {
 public:
  PoolCore(PoolConfig config, BufferProvider& owner);
  ~PoolCore();

  const PoolConfig config;
  const SizeClasses classes;
  BufferProvider& owner;

  [[nodiscard]] Chunk* find_chunk(const void* p) const noexcept {
    Chunk* chunk = map_.find(p);
    return chunk && chunk->holds_buffer(p) ? chunk : nullptr;
  }
  [[nodiscard]] const ChunkMap& map() const noexcept { return map_; }
  [[nodiscard]] std::uintptr_t mark_key() const noexcept { return mark_key_; }
  [[nodiscard]] std::uintptr_t free_mark(const void* p) const noexcept {
    return reinterpret_cast<std::uintptr_t>(p) ^ mark_key_;
  }
  // Validates a buffer about to be released: ours, a buffer start, not already free.
  [[nodiscard]] Chunk* check_release(void* p) const noexcept {
    Chunk* chunk = find_chunk(p);
    if (!chunk || node_of(p)->free_mark == free_mark(p)) return nullptr;
    return chunk;
  }
  [[nodiscard]] Buffer hand_out(void* p, std::size_t length, std::size_t index) noexcept {
    node_of(p)->free_mark = 0;
    return Buffer{static_cast<std::byte*>(p), length, classes.size(index), &owner, index};
  }
  void mark_free(void* p) noexcept { (new (p) FreeNode())->free_mark = free_mark(p); }
  void count_failure() noexcept { failures_.fetch_add(1, std::memory_order_relaxed); }

  Expected<Buffer> acquire(std::size_t length, std::size_t alignment) noexcept;
  std::error_code release(void* p) noexcept;

  // Moves up to `want` free buffers of class `index` into `out`; maps a chunk if the list is
  // empty. Returns how many (0: not_enough_memory). `bin` is the calling cache's, which keeps
  // all but one of them; null for a direct acquisition.
  std::size_t take(std::size_t index, void** out, std::size_t want, Cache::Bin* bin) noexcept;
  // Puts `n` buffers (already marked free) back on class `index`'s list, from `bin` (the first
  // n of its items) or directly (null).
  void give_back(std::size_t index, void* const* items, std::size_t n, Cache::Bin* bin) noexcept;

  std::size_t trim() noexcept;
  std::error_code reserve(std::size_t length, std::size_t count) noexcept;
  ProviderStats stats() const;
  [[nodiscard]] std::uint64_t mapped_bytes() const noexcept { return mapped_bytes_.load(std::memory_order_relaxed); }

  std::vector<iovec> register_fixed_buffers();
  void unregister_fixed_buffers() noexcept;
  [[nodiscard]] std::optional<FixedBufferRef> fixed_buffer(const void* p) const noexcept;
  std::vector<SharedRegion> shared_regions() const;

  void attach(Cache& cache);
  void detach(Cache& cache) noexcept;

 private:
  // Under the class mutex: maps a chunk for class `index` and puts its buffers on the list.
  std::error_code grow(ClassState& cls, std::size_t index) noexcept;
  // Under region_mutex_: `granules` free granules, in an existing region or a new mapping.
  std::pair<Region*, std::size_t> place(std::size_t granules) noexcept;
  Region* map_region(std::size_t granules) noexcept;
  // Under region_mutex_: frees the granules; unmaps the region once empty. Returns bytes unmapped.
  std::size_t release_span(Region* region, std::size_t first, std::size_t granules) noexcept;
  std::size_t trim_class(std::size_t index) noexcept;
  // Under the class mutex: in use = off the list minus sitting in caches, exact (it reads every
  // cache's count under caches_mutex_), for stats().
  std::uint64_t in_use(const ClassState& cls, std::size_t index) const noexcept;
  // Under the class mutex: the peak from the counts caches last reported, so the IO path never
  // takes caches_mutex_. Between two visits of a cache its hits are not seen.
  static void note_peak(ClassState& cls) noexcept {
    cls.peak = std::max(cls.peak, cls.out - cls.cached);
  }
  static void report(ClassState& cls, Cache::Bin& bin, std::uint32_t held) noexcept {
    cls.cached = cls.cached - bin.reported + held;
    bin.reported = held;
  }
  std::size_t chunk_granules(std::size_t buffer_size) const noexcept;

  std::unique_ptr<ClassState[]> central_;
  ChunkMap map_;
  std::uintptr_t mark_key_;

  mutable std::mutex region_mutex_;
  std::vector<std::unique_ptr<Region>> regions_;
  std::vector<std::unique_ptr<Chunk>> chunks_;       // live and spare (reused, never freed)
  std::vector<Chunk*> spare_chunks_;
  std::atomic<std::uint64_t> mapped_bytes_{0};
  BackingStats backing_;
  bool fixed_registered_ = false;

  mutable std::mutex caches_mutex_;
  std::vector<Cache*> caches_;
  std::vector<std::uint64_t> retired_hits_, retired_misses_;

  std::atomic<std::uint64_t> failures_{0};
};

}  // namespace pool::detail
