#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "ublk/target.hpp"

namespace ublk {

// What a daemon knows when it makes its target; each target reads the fields it needs.
struct TargetParams {
  std::uint64_t size_bytes = 0;
  bool recoverable = false;       // the device asked for user recovery: keep data where it survives
  bool take_over = false;         // a new daemon adopts a crashed one's device (--recover)
  bool no_data = false;           // null: the queue may skip buffers
  bool async = false;             // null: complete from a worker thread
  std::uint64_t hold_bytes = 0;   // mem: request buffers it may keep instead of copying
  std::string file;               // a backing file, for targets that have one
  bool size_given = false;        // loop: size_bytes sizes the file; else the file sizes the device
  std::uint32_t logical_block = 0;  // loop: 0 for the backing's own
  bool buffered = false;          // loop: the page cache instead of O_DIRECT
  unsigned queues = 1;
  unsigned depth = 128;
};

struct TargetEntry {
  std::string_view name;
  std::unique_ptr<Target> (*make)(const TargetParams& params);  // throws on setup failure
};

// Every target: one line each in target_table.cpp.
std::span<const TargetEntry> target_table() noexcept;
// The target called `name`, or nullptr if there is none.
const TargetEntry* find_target(std::string_view name) noexcept;

}  // namespace ublk
