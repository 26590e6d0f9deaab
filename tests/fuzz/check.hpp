#pragma once
// Invariant checks: a broken one prints what and aborts, which libFuzzer reports as a crash.
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

namespace fuzz {

template <class... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  std::fprintf(stderr, "pool_fuzz: invariant broken: %s\n", out.str().c_str());
  std::abort();
}

template <class... Parts>
void expect(bool ok, const Parts&... parts) {
  if (!ok) [[unlikely]]
    fail(parts...);
}

// POOL_FUZZ_TRACE=1 prints every operation: the way to read a crashing input.
bool tracing();

template <class... Parts>
void trace(const Parts&... parts) {
  if (!tracing()) return;
  std::ostringstream out;
  (out << ... << parts);
  std::fprintf(stderr, "  %s\n", out.str().c_str());
}

}  // namespace fuzz
