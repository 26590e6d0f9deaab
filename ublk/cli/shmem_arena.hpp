#pragma once
#include <cstddef>

#include "ublk/mapping.hpp"
#include "ublk/unique_fd.hpp"

namespace ublk::cli {

// One client's arena: a memfd (2 MiB hugetlb pages when the pool has them free, else shmem),
// mapped MAP_SHARED and populated here, so a short pool fails now and not by SIGBUS later.
struct SharedArena {
  UniqueFd fd;
  Mapping mapping;
  bool hugetlb = false;

  // At least `bytes`, rounded up to the page size it gets. Throws std::system_error.
  static SharedArena create(std::size_t bytes);
};

}  // namespace ublk::cli
