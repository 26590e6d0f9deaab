#pragma once
// The allocators pool_bench measures, each behind the same two inline calls.
//
// jemalloc and mimalloc both export malloc/free/posix_memalign. Linked into this binary they
// would replace glibc's for the whole process, and the "glibc" column would measure them. So
// they are not linked: load_competitors() dlopen()s each with RTLD_LOCAL | RTLD_DEEPBIND (its
// symbols stay out of the global scope, its own calls bind to itself) and takes mallocx/dallocx
// and mi_malloc_aligned/mi_free with dlsym. libjemalloc needs static TLS, which dlopen only has
// with a larger surplus: main() re-executes the binary once with GLIBC_TUNABLES set for that.
// check_glibc_malloc() verifies at startup that posix_memalign still resolves to libc.
#include <cstddef>
#include <cstdlib>
#include <memory_resource>
#include <string>

#include "pool/size_class_pool.hpp"

namespace pool_bench {

struct DlAllocators {
  void* (*mallocx)(std::size_t, int) = nullptr;
  void (*dallocx)(void*, int) = nullptr;
  int mallocx_align_4096 = 0;
  void* (*mi_malloc_aligned)(std::size_t, std::size_t) = nullptr;
  void (*mi_free)(void*) = nullptr;
  std::string jemalloc_error, mimalloc_error;
};

// Loads jemalloc and mimalloc privately (see above). A library that fails leaves its pair null.
DlAllocators load_competitors();
// The shared object posix_memalign resolves to in this process, and whether that is glibc.
std::string posix_memalign_origin();
bool check_glibc_malloc();

struct Glibc {
  void* acquire(std::size_t size) {
    void* p = nullptr;
    return ::posix_memalign(&p, 4096, size) == 0 ? p : nullptr;
  }
  void release(void* p, std::size_t) { std::free(p); }
};

struct Jemalloc {
  const DlAllocators* dl;
  void* acquire(std::size_t size) { return dl->mallocx(size, dl->mallocx_align_4096); }
  void release(void* p, std::size_t) { dl->dallocx(p, 0); }
};

struct Mimalloc {
  const DlAllocators* dl;
  void* acquire(std::size_t size) { return dl->mi_malloc_aligned(size, 4096); }
  void release(void* p, std::size_t) { dl->mi_free(p); }
};

struct Pmr {
  std::pmr::memory_resource* resource;
  void* acquire(std::size_t size) { return resource->allocate(size, 4096); }
  void release(void* p, std::size_t size) { resource->deallocate(p, size, 4096); }
};

struct PoolDirect {
  pool::SizeClassPool* pool;
  void* acquire(std::size_t size) {
    auto b = pool->acquire(size);
    return b ? b->data : nullptr;
  }
  void release(void* p, std::size_t) { (void)pool->release(p); }
};

struct PoolCache {
  pool::Cache cache;
  explicit PoolCache(pool::SizeClassPool& pool) : cache(pool) {}
  void* acquire(std::size_t size) {
    auto b = cache.acquire(size);
    return b ? b->data : nullptr;
  }
  void release(void* p, std::size_t) { (void)cache.release(p); }
};

}  // namespace pool_bench
