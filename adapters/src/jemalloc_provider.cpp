#include "adapters/jemalloc_provider.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <string>

#include <jemalloc/jemalloc.h>

#include "adapters/request_check.hpp"

namespace adapters {

namespace {
constexpr std::size_t kHugePage = std::size_t{2} << 20;

std::size_t round_up(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

std::string arena_ctl(unsigned arena, const char* leaf) {
  return "arena." + std::to_string(arena) + "." + leaf;
}
}  // namespace

// Extent hooks that carve the arena's extents, its metadata included, out of one MAP_HUGETLB
// region with a bump pointer. Extents are never given back (dalloc refuses, so jemalloc keeps
// them as retained and reuses them), which keeps the hooks to a pointer and a lock; the region is
// unmapped when the provider goes, after the arena is destroyed.
class HugepageExtentHooks {
 public:
  explicit HugepageExtentHooks(std::size_t bytes) : size_(round_up(bytes, kHugePage)) {
    void* p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("jemalloc hugetlb region: mmap(MAP_HUGETLB) failed");
    base_ = static_cast<std::byte*>(p);
  }
  ~HugepageExtentHooks() { munmap(base_, size_); }
  HugepageExtentHooks(const HugepageExtentHooks&) = delete;
  HugepageExtentHooks& operator=(const HugepageExtentHooks&) = delete;

  extent_hooks_t* hooks() noexcept { return &table_; }
  std::size_t used() const {
    std::lock_guard lock(mutex_);
    return used_;
  }

 private:
  static HugepageExtentHooks& self(extent_hooks_t* hooks) {
    // table_ is the first member of a standard-layout-enough object: its address is ours.
    return *reinterpret_cast<HugepageExtentHooks*>(hooks);
  }

  static void* alloc(extent_hooks_t* h, void* new_addr, std::size_t size, std::size_t alignment, bool* zero,
                     bool* commit, unsigned) {
    auto& me = self(h);
    std::lock_guard lock(me.mutex_);
    const std::size_t start = round_up(me.used_, alignment);
    if (start + size > me.size_) return nullptr;
    std::byte* addr = me.base_ + start;
    if (new_addr && new_addr != addr) return nullptr;
    me.used_ = start + size;
    *zero = true;  // fresh hugetlb pages, never handed out before
    *commit = true;
    return addr;
  }
  static bool refuse_dalloc(extent_hooks_t*, void*, std::size_t, bool, unsigned) { return true; }
  static void destroy(extent_hooks_t*, void*, std::size_t, bool, unsigned) {}
  static bool split(extent_hooks_t*, void*, std::size_t, std::size_t, std::size_t, bool, unsigned) {
    return false;  // one mapping: any split is fine
  }
  static bool merge(extent_hooks_t*, void*, std::size_t, void*, std::size_t, bool, unsigned) {
    return false;  // one mapping: neighbours may always merge
  }

  extent_hooks_t table_{alloc, refuse_dalloc, destroy, nullptr, nullptr, nullptr, nullptr, split, merge};
  std::byte* base_ = nullptr;
  std::size_t size_ = 0;
  mutable std::mutex mutex_;
  std::size_t used_ = 0;
};

JemallocProvider::JemallocProvider(std::string name, ProviderConfig config, Backing backing)
    : name_(std::move(name)), config_(config), recorder_(name_, config.max_length, config.byte_limit) {
  std::size_t arena_size = sizeof(arena_);
  int rc = 0;
  if (backing == Backing::hugetlb) {
    // Headroom over the byte limit for the arena's metadata and size-class rounding.
    const std::size_t limit = config_.byte_limit ? config_.byte_limit : std::size_t{256} << 20;
    hooks_ = std::make_unique<HugepageExtentHooks>(limit + limit / 4 + 4 * kHugePage);
    extent_hooks_t* table = hooks_->hooks();
    rc = mallctl("arenas.create", &arena_, &arena_size, &table, sizeof(table));
  } else {
    rc = mallctl("arenas.create", &arena_, &arena_size, nullptr, 0);
  }
  if (rc != 0) throw std::runtime_error("jemalloc: arenas.create failed: " + std::to_string(rc));
}

JemallocProvider::~JemallocProvider() {
  // Destroying an arena frees everything in it; with buffers still out, leave it (and the
  // hugetlb region) to the process.
  if (recorder_.bytes_in_use() != 0) {
    (void)hooks_.release();
    return;
  }
  (void)mallctl(arena_ctl(arena_, "destroy").c_str(), nullptr, nullptr, nullptr, 0);
}

int JemallocProvider::flags(std::size_t alignment) const noexcept {
  return static_cast<int>(MALLOCX_ARENA(arena_)) | MALLOCX_ALIGN(std::max(alignment, pool::kPageSize)) |
         MALLOCX_TCACHE_NONE;
}

pool::Expected<pool::Buffer> JemallocProvider::acquire(std::size_t length, std::size_t alignment) noexcept {
  if (auto bad = check_request(length, alignment, config_.max_length, kMaxAlignment)) {
    recorder_.refuse();
    return bad;
  }
  if (!recorder_.reserve(length)) return std::errc::not_enough_memory;
  void* data = mallocx(length, flags(alignment));
  if (!data) {
    recorder_.cancel(length);
    return std::errc::not_enough_memory;
  }
  recorder_.commit(length);
  return pool::Buffer{static_cast<std::byte*>(data), length, length, this, alignment};
}

std::error_code JemallocProvider::release(const pool::Buffer& buffer) noexcept {
  if (buffer.owner != this || !buffer.data || buffer.length == 0)
    return std::make_error_code(std::errc::invalid_argument);
  sdallocx(buffer.data, buffer.length, flags(buffer.cookie));
  recorder_.release(buffer.length);
  return {};
}

std::optional<pool::ProviderStats> JemallocProvider::stats() const {
  auto s = recorder_.snapshot();
  if (hooks_) {
    s.backing.other_bytes = 0;
    s.backing.hugetlb_bytes = hooks_->used();
  }
  return s;
}

}  // namespace adapters
