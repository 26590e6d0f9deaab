#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace pool {

struct ClassStats {
  std::size_t size = 0;     // capacity of one buffer of this class
  std::uint64_t hits = 0;   // acquisitions served without going to the OS or the central lists
  std::uint64_t misses = 0; // acquisitions that had to refill
  std::uint64_t in_use = 0; // buffers out now
  std::uint64_t peak = 0;   // most buffers out at once
};

// What memory actually backs a provider, by kind. A provider that cannot tell leaves it zero.
struct BackingStats {
  std::uint64_t hugetlb_bytes = 0;
  std::uint64_t thp_bytes = 0;
  std::uint64_t small_page_bytes = 0;
  std::uint64_t shmem_bytes = 0;   // shared memory (memfd) on small pages
  std::uint64_t shared_bytes = 0;  // of all the above, what another process can map (PoolConfig::shared)
  std::uint64_t other_bytes = 0;  // memory the provider got from elsewhere (malloc, an arena)
};

// The stats shape every provider reports, libpool and every adapter alike.
struct ProviderStats {
  std::string provider;
  std::vector<ClassStats> classes;
  BackingStats backing;
  std::uint64_t acquire_failures = 0;  // exhaustion and bad input, both refused with an error
  std::uint64_t bytes_in_use = 0;      // capacity of the buffers out now
  std::uint64_t bytes_limit = 0;       // 0: no limit

  [[nodiscard]] std::string to_json() const;
};

}  // namespace pool
