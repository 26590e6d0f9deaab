#include "competitors.hpp"

#include <dlfcn.h>
#include <jemalloc/jemalloc.h>  // for MALLOCX_ALIGN only; the library itself is dlopen()ed
#include <strings.h>

namespace pool_bench {

namespace {
void* open_private(const char* soname, std::string& error) {
  void* handle = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  if (!handle) error = ::dlerror();
  return handle;
}

template <class F>
F symbol(void* handle, const char* name, std::string& error) {
  void* sym = handle ? ::dlsym(handle, name) : nullptr;
  if (handle && !sym) error = std::string("no symbol ") + name;
  return reinterpret_cast<F>(sym);
}
}  // namespace

DlAllocators load_competitors() {
  DlAllocators dl;
  // Handles stay open for the life of the process: the benchmarks call into them until exit.
  void* je = open_private("libjemalloc.so.2", dl.jemalloc_error);
  dl.mallocx = symbol<decltype(dl.mallocx)>(je, "mallocx", dl.jemalloc_error);
  dl.dallocx = symbol<decltype(dl.dallocx)>(je, "dallocx", dl.jemalloc_error);
  dl.mallocx_align_4096 = MALLOCX_ALIGN(4096);
  if (!dl.mallocx || !dl.dallocx) dl.mallocx = nullptr, dl.dallocx = nullptr;

  void* mi = open_private("libmimalloc.so.2", dl.mimalloc_error);
  dl.mi_malloc_aligned = symbol<decltype(dl.mi_malloc_aligned)>(mi, "mi_malloc_aligned", dl.mimalloc_error);
  dl.mi_free = symbol<decltype(dl.mi_free)>(mi, "mi_free", dl.mimalloc_error);
  if (!dl.mi_malloc_aligned || !dl.mi_free) dl.mi_malloc_aligned = nullptr, dl.mi_free = nullptr;
  return dl;
}

std::string posix_memalign_origin() {
  Dl_info info{};
  void* resolved = ::dlsym(RTLD_DEFAULT, "posix_memalign");
  if (!resolved || !::dladdr(resolved, &info) || !info.dli_fname) return "?";
  return info.dli_fname;
}

bool check_glibc_malloc() { return posix_memalign_origin().find("libc.so") != std::string::npos; }

}  // namespace pool_bench
