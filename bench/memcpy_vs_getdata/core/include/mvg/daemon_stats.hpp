#pragma once
// What ublk-pool-null counted itself (its --json report): the check that each column really makes
// the copies it claims to.

#include <optional>
#include <string_view>

namespace mvg {

// Bytes memcpy'd per byte written, by the kernel and in userspace together: 2 for copy --app-copy,
// 1 for the other modes. READ bytes (the kernel's partition scan) are left out. nullopt when the
// report lacks the counters or saw no write.
std::optional<double> copies_per_write_byte(std::string_view daemon_json);

}  // namespace mvg
