#pragma once
// The shadow model of one SizeClassPool: what its stats must say, computed from the documented
// behaviour only (size classes, alignment rules, byte limit), never from its internals.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "pool/size_class_pool.hpp"

namespace fuzz {

// The class sizes pool/size_classes.hpp documents: multiples of 4 KiB from 4 KiB to max_size,
// powers of two plus steps - 1 evenly spaced sizes between them, rounded up to 4 KiB.
std::vector<std::size_t> documented_class_sizes(std::size_t max_size, unsigned steps);
// Every buffer of a class is aligned to the lowest set bit of its size, at most 2 MiB.
std::size_t natural_alignment(std::size_t size);

struct PoolModel {
  PoolModel(std::shared_ptr<pool::SizeClassPool> p, std::uint64_t generation);

  // The class acquire(length, alignment) must use, or pool::kNoClass for invalid_argument.
  [[nodiscard]] std::size_t expected_class(std::size_t length, std::size_t alignment) const;
  // Compares the pool's stats and mapped bytes with the model; `idle` also needs no cached buffer.
  void check() ;
  [[nodiscard]] std::uint64_t live_buffers() const;

  std::shared_ptr<pool::SizeClassPool> pool;
  std::uint64_t generation;
  std::vector<std::size_t> sizes;
  std::vector<std::uint64_t> in_use;
  std::vector<bool> served;               // a buffer of the class was handed out once
  std::vector<std::uint64_t> footprint;   // bytes mapping the first chunk of the class took; 0: unknown
  std::vector<std::uint64_t> last_peak;
  std::uint64_t bytes_in_use = 0;
  std::uint64_t failures = 0;
  std::uint64_t class_acquisitions = 0;   // valid acquisitions: each is one hit or one miss
  bool fixed_registered = false;
  int caches = 0;                         // live Cache objects on this pool
};

}  // namespace fuzz
