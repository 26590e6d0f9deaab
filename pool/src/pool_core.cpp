#include "pool_core.hpp"

#include <algorithm>
#include <random>

#include "pool/cache.hpp"

namespace pool::detail {

namespace {
constexpr std::size_t kGranule = ChunkMap::kGranule;
constexpr std::size_t kMaxChunkGranules = kMaxBufferSizeLimit / kGranule;

std::uintptr_t random_key() {
  std::random_device device;
  return (static_cast<std::uintptr_t>(device()) << 32) ^ device() ^ 0x9e3779b97f4a7c15ull;
}

void add_backing(BackingStats& stats, os::Backing backing, std::int64_t bytes) {
  auto add = [&](std::uint64_t& field) { field += static_cast<std::uint64_t>(bytes); };
  switch (backing) {
    case os::Backing::hugetlb_1g:
    case os::Backing::hugetlb_2m: add(stats.hugetlb_bytes); break;
    case os::Backing::thp: add(stats.thp_bytes); break;
    case os::Backing::small_pages: add(stats.small_page_bytes); break;
    case os::Backing::shared_hugetlb:
      add(stats.hugetlb_bytes);
      add(stats.shared_bytes);
      break;
    case os::Backing::shmem:
      add(stats.shmem_bytes);
      add(stats.shared_bytes);
      break;
  }
}
}  // namespace

PoolCore::PoolCore(PoolConfig cfg, BufferProvider& provider)
    : config(std::move(cfg)),
      classes(config.max_buffer_size, config.steps_per_doubling),
      owner(provider),
      central_(std::make_unique<ClassState[]>(classes.count())),
      mark_key_(random_key()),
      retired_hits_(classes.count()),
      retired_misses_(classes.count()) {
  if (config.name.empty()) throw std::invalid_argument("pool: the name must not be empty");
}

PoolCore::~PoolCore() {
  for (std::size_t i = 0; i < classes.count(); ++i) central_[i].free.clear();
}

std::size_t PoolCore::chunk_granules(std::size_t buffer_size) const noexcept {
  // The fewest 2 MiB granules that waste at most 1/8 of the chunk, else the least waste.
  std::size_t best = kMaxChunkGranules;
  double best_waste = 1.0;
  for (std::size_t granules = 1; granules <= kMaxChunkGranules; ++granules) {
    const std::size_t bytes = granules * kGranule;
    if (bytes < buffer_size) continue;
    const std::size_t waste = bytes % buffer_size;
    if (waste * 8 <= bytes) return granules;
    const double fraction = static_cast<double>(waste) / static_cast<double>(bytes);
    if (fraction < best_waste) best = granules, best_waste = fraction;
  }
  return best;
}

Region* PoolCore::map_region(std::size_t granules) noexcept {
  const std::size_t bytes = granules * kGranule;
  const auto policy = config.backing;
  const bool try_hugetlb = policy == BackingPolicy::automatic || policy == BackingPolicy::hugetlb;
  const bool try_thp = policy == BackingPolicy::thp || (policy == BackingPolicy::automatic && os::thp_available());
  const bool try_small = policy == BackingPolicy::automatic || policy == BackingPolicy::none;
  auto fits = [&](std::size_t b) {
    return config.byte_limit == 0 || mapped_bytes_.load(std::memory_order_relaxed) + b <= config.byte_limit;
  };

  Expected<os::MappedRegion> mapping = std::errc::not_enough_memory;
  if (config.shared) {
    // Memfds, so that another process can map them; THP does not apply to them here.
    if (fits(bytes) && try_hugetlb) mapping = os::map_shared(bytes, true);
    if (!mapping && fits(bytes) && policy != BackingPolicy::hugetlb) mapping = os::map_shared(bytes, false);
  } else {
    if (try_hugetlb && config.hugetlb_1g) {
      const std::size_t big = (bytes + os::kHugePage1G - 1) / os::kHugePage1G * os::kHugePage1G;
      if (fits(big)) mapping = os::map_hugetlb(big, true);
    }
    if (fits(bytes)) {
      if (!mapping && try_hugetlb) mapping = os::map_hugetlb(bytes, false);
      if (!mapping && try_thp) mapping = os::map_thp(bytes);
      if (!mapping && try_small) mapping = os::map_small_pages(bytes);
    }
  }
  if (!mapping) return nullptr;

  try {
    auto region = std::make_unique<Region>();
    region->mapping = std::move(*mapping);
    region->granule_used.assign(region->mapping.bytes() / kGranule, false);
    regions_.push_back(std::move(region));
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
  Region* region = regions_.back().get();
  os::Backing backing = region->mapping.backing();
  // MADV_HUGEPAGE is accepted even where THP is off; then the pages are small ones.
  if (backing == os::Backing::thp && !os::thp_available()) backing = os::Backing::small_pages;
  add_backing(backing_, backing, static_cast<std::int64_t>(region->mapping.bytes()));
  mapped_bytes_.fetch_add(region->mapping.bytes(), std::memory_order_relaxed);
  return region;
}

std::pair<Region*, std::size_t> PoolCore::place(std::size_t granules) noexcept {
  for (auto& region : regions_) {
    auto& used = region->granule_used;
    if (used.size() - region->granules_used < granules) continue;
    std::size_t run = 0;
    for (std::size_t g = 0; g < used.size(); ++g) {
      run = used[g] ? 0 : run + 1;
      if (run == granules) {
        const std::size_t first = g + 1 - granules;
        std::fill(used.begin() + static_cast<std::ptrdiff_t>(first), used.begin() + static_cast<std::ptrdiff_t>(g + 1), true);
        region->granules_used += granules;
        return {region.get(), first};
      }
    }
  }
  Region* region = map_region(granules);
  if (!region) return {nullptr, 0};
  std::fill(region->granule_used.begin(), region->granule_used.begin() + static_cast<std::ptrdiff_t>(granules), true);
  region->granules_used = granules;
  return {region, 0};
}

std::size_t PoolCore::release_span(Region* region, std::size_t first, std::size_t granules) noexcept {
  std::fill(region->granule_used.begin() + static_cast<std::ptrdiff_t>(first),
            region->granule_used.begin() + static_cast<std::ptrdiff_t>(first + granules), false);
  region->granules_used -= granules;
  if (region->granules_used != 0 || region->fixed_index.load(std::memory_order_relaxed) >= 0 || config.shared) return 0;
  const std::size_t bytes = region->mapping.bytes();
  os::Backing backing = region->mapping.backing();
  if (backing == os::Backing::thp && !os::thp_available()) backing = os::Backing::small_pages;
  add_backing(backing_, backing, -static_cast<std::int64_t>(bytes));
  mapped_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
  auto it = std::find_if(regions_.begin(), regions_.end(), [&](const auto& r) { return r.get() == region; });
  regions_.erase(it);  // unmaps
  return bytes;
}

std::error_code PoolCore::grow(ClassState& cls, std::size_t index) noexcept {
  const std::size_t size = classes.size(index);
  const std::size_t granules = chunk_granules(size);
  Chunk* chunk = nullptr;
  try {
    cls.chunks.reserve(cls.chunks.size() + 1);
    std::lock_guard lock(region_mutex_);
    if (spare_chunks_.empty()) {
      chunks_.reserve(chunks_.size() + 1);
      spare_chunks_.reserve(chunks_.size() + 1);
      chunks_.push_back(std::make_unique<Chunk>());
      spare_chunks_.push_back(chunks_.back().get());
    }
    auto [region, first] = place(granules);
    if (!region) return std::make_error_code(std::errc::not_enough_memory);
    chunk = spare_chunks_.back();
    *chunk = Chunk{};
    chunk->base = region->mapping.data() + first * kGranule;
    chunk->bytes = granules * kGranule;
    chunk->buffer_size = size;
    chunk->buffer_count = chunk->bytes / size;
    chunk->class_index = index;
    chunk->region = region;
    chunk->first_granule = first;
    chunk->span = chunk->buffer_count * size;
    chunk->multiple_of_size = MultipleTest(size);
    if (!map_.set(chunk->base, chunk->bytes, chunk)) {
      release_span(region, first, granules);
      return std::make_error_code(std::errc::not_enough_memory);
    }
    spare_chunks_.pop_back();
  } catch (const std::bad_alloc&) {
    return std::make_error_code(std::errc::not_enough_memory);
  }
  cls.chunks.push_back(chunk);
  for (std::size_t i = chunk->buffer_count; i-- > 0;) {
    void* buffer = chunk->base + i * size;
    mark_free(buffer);
    cls.free.push_front(*node_of(buffer));
  }
  cls.free_count += chunk->buffer_count;
  return {};
}

std::uint64_t PoolCore::in_use(const ClassState& cls, std::size_t index) const noexcept {
  std::uint64_t cached = 0;
  {
    std::lock_guard lock(caches_mutex_);
    for (const Cache* cache : caches_) cached += cache->cached(index);
  }
  return cls.out >= cached ? cls.out - cached : 0;
}

std::size_t PoolCore::take(std::size_t index, void** out, std::size_t want, Cache::Bin* bin) noexcept {
  ClassState& cls = central_[index];
  std::unique_lock lock(cls.mutex);
  bool grew = false;
  if (cls.free_count == 0) {
    grew = true;
    if (grow(cls, index)) {
      // At the byte limit: idle chunks of other classes may make room.
      lock.unlock();
      trim();
      lock.lock();
      if (cls.free_count == 0 && grow(cls, index)) {
        if (!bin) ++cls.misses, ++cls.direct_acquires;
        failures_.fetch_add(1, std::memory_order_relaxed);
        return 0;
      }
    }
  }
  const std::size_t n = std::min(want, cls.free_count);
  for (std::size_t i = 0; i < n; ++i) {
    FreeNode& node = cls.free.front();
    cls.free.pop_front();
    map_.find(&node)->out++;
    out[i] = &node;
  }
  cls.free_count -= n;
  cls.out += n;
  if (bin) {
    report(cls, *bin, static_cast<std::uint32_t>(bin->count.load(std::memory_order_relaxed) + n - 1));
  } else {
    ++cls.direct_acquires;
    grew ? ++cls.misses : ++cls.direct_hits;
  }
  note_peak(cls);
  return n;
}

void PoolCore::give_back(std::size_t index, void* const* items, std::size_t n, Cache::Bin* bin) noexcept {
  ClassState& cls = central_[index];
  std::lock_guard lock(cls.mutex);
  if (bin) report(cls, *bin, bin->count.load(std::memory_order_relaxed));
  note_peak(cls);
  for (std::size_t i = 0; i < n; ++i) {
    map_.find(items[i])->out--;
    cls.free.push_front(*node_of(items[i]));
  }
  cls.free_count += n;
  cls.out -= n;
  if (bin) report(cls, *bin, static_cast<std::uint32_t>(bin->reported - n));
}

Expected<Buffer> PoolCore::acquire(std::size_t length, std::size_t alignment) noexcept {
  const std::size_t index = classes.index_for(length, alignment);
  if (index == kNoClass) {
    count_failure();
    return std::errc::invalid_argument;
  }
  void* buffer = nullptr;
  if (take(index, &buffer, 1, nullptr) == 0) return std::errc::not_enough_memory;
  return hand_out(buffer, length, index);
}

std::error_code PoolCore::release(void* p) noexcept {
  Chunk* chunk = check_release(p);
  if (!chunk) return std::make_error_code(std::errc::invalid_argument);
  mark_free(p);
  give_back(chunk->class_index, &p, 1, nullptr);
  return {};
}

std::size_t PoolCore::trim_class(std::size_t index) noexcept {
  ClassState& cls = central_[index];
  std::lock_guard lock(cls.mutex);
  std::size_t idle = 0;
  for (Chunk* chunk : cls.chunks) {
    chunk->dying = chunk->out == 0 && chunk->region->fixed_index.load(std::memory_order_relaxed) < 0;
    idle += chunk->dying;
  }
  if (idle == 0) return 0;

  auto before = cls.free.before_begin();
  for (auto it = cls.free.begin(); it != cls.free.end();) {
    if (map_.find(&*it)->dying) {
      it = cls.free.erase_after(before);
      --cls.free_count;
    } else {
      before = it++;
    }
  }
  std::size_t unmapped = 0;
  std::lock_guard region_lock(region_mutex_);
  auto kept = std::partition(cls.chunks.begin(), cls.chunks.end(), [](Chunk* c) { return !c->dying; });
  for (auto it = kept; it != cls.chunks.end(); ++it) {
    Chunk* chunk = *it;
    map_.set(chunk->base, chunk->bytes, nullptr);
    unmapped += release_span(chunk->region, chunk->first_granule, chunk->bytes / kGranule);
    chunk->dying = false;
    spare_chunks_.push_back(chunk);  // capacity reserved in grow(): cannot throw
  }
  cls.chunks.erase(kept, cls.chunks.end());
  return unmapped;
}

std::size_t PoolCore::trim() noexcept {
  std::size_t unmapped = 0;
  for (std::size_t i = 0; i < classes.count(); ++i) unmapped += trim_class(i);
  return unmapped;
}

std::error_code PoolCore::reserve(std::size_t length, std::size_t count) noexcept {
  const std::size_t index = classes.index_for(length);
  if (index == kNoClass) return std::make_error_code(std::errc::invalid_argument);
  ClassState& cls = central_[index];
  std::lock_guard lock(cls.mutex);
  while (cls.free_count < count)
    if (auto ec = grow(cls, index)) return ec;
  return {};
}

ProviderStats PoolCore::stats() const {
  ProviderStats out;
  out.provider = config.name;
  out.bytes_limit = config.byte_limit;
  out.acquire_failures = failures_.load(std::memory_order_relaxed);
  out.classes.resize(classes.count());
  for (std::size_t i = 0; i < classes.count(); ++i) {
    ClassState& cls = central_[i];
    ClassStats& c = out.classes[i];
    c.size = classes.size(i);
    std::lock_guard lock(cls.mutex);
    c.in_use = in_use(cls, i);
    cls.peak = std::max(cls.peak, c.in_use);
    c.peak = cls.peak;
    c.hits = cls.direct_hits;
    c.misses = cls.misses;
    out.bytes_in_use += c.in_use * c.size;
  }
  {
    std::lock_guard lock(caches_mutex_);
    for (std::size_t i = 0; i < classes.count(); ++i) {
      out.classes[i].hits += retired_hits_[i];
      out.classes[i].misses += retired_misses_[i];
    }
    for (const Cache* cache : caches_) {
      for (std::size_t i = 0; i < classes.count(); ++i) {
        out.classes[i].hits += cache->bins_[i].hits.load(std::memory_order_relaxed);
        out.classes[i].misses += cache->bins_[i].misses.load(std::memory_order_relaxed);
      }
    }
  }
  std::lock_guard lock(region_mutex_);
  out.backing = backing_;
  return out;
}

std::vector<iovec> PoolCore::register_fixed_buffers() {
  std::lock_guard lock(region_mutex_);
  std::vector<iovec> iovecs;
  iovecs.reserve(regions_.size());
  for (auto& region : regions_) {
    region->fixed_index.store(static_cast<int>(iovecs.size()), std::memory_order_relaxed);
    iovecs.push_back(iovec{region->mapping.data(), region->mapping.bytes()});
  }
  fixed_registered_ = true;
  return iovecs;
}

void PoolCore::unregister_fixed_buffers() noexcept {
  std::lock_guard lock(region_mutex_);
  for (auto& region : regions_) region->fixed_index.store(-1, std::memory_order_relaxed);
  fixed_registered_ = false;
  // Regions kept only for the registration are empty now and go at the next trim().
  std::vector<Region*> empty;
  for (auto& region : regions_)
    if (region->granules_used == 0) empty.push_back(region.get());
  for (Region* region : empty) {
    region->granules_used = 0;
    release_span(region, 0, 0);
  }
}

std::optional<FixedBufferRef> PoolCore::fixed_buffer(const void* p) const noexcept {
  const Chunk* chunk = map_.find(p);
  if (!chunk) return std::nullopt;
  const auto* byte = static_cast<const std::byte*>(p);
  if (static_cast<std::size_t>(byte - chunk->base) >= chunk->buffer_count * chunk->buffer_size) return std::nullopt;
  const int index = chunk->region->fixed_index.load(std::memory_order_relaxed);
  if (index < 0) return std::nullopt;
  return FixedBufferRef{static_cast<unsigned>(index), static_cast<std::size_t>(byte - chunk->region->mapping.data())};
}

std::vector<SharedRegion> PoolCore::shared_regions() const {
  std::lock_guard lock(region_mutex_);
  std::vector<SharedRegion> out;
  for (const auto& region : regions_) {
    const os::MappedRegion& m = region->mapping;
    if (m.fd() >= 0) out.push_back({m.fd(), m.data(), m.bytes(), m.backing() == os::Backing::shared_hugetlb});
  }
  return out;
}

void PoolCore::attach(Cache& cache) {
  std::lock_guard lock(caches_mutex_);
  caches_.push_back(&cache);
}

void PoolCore::detach(Cache& cache) noexcept {
  std::lock_guard lock(caches_mutex_);
  for (std::size_t i = 0; i < classes.count(); ++i) {
    retired_hits_[i] += cache.bins_[i].hits.load(std::memory_order_relaxed);
    retired_misses_[i] += cache.bins_[i].misses.load(std::memory_order_relaxed);
  }
  caches_.erase(std::find(caches_.begin(), caches_.end(), &cache));
}

}  // namespace pool::detail
