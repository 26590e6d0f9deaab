#include "target_table.hpp"

#include <array>

#include "loop_target.hpp"
#include "mem_target.hpp"
#include "null_target.hpp"

namespace ublk {

namespace {
std::unique_ptr<Target> make_null(const TargetParams& p) { return std::make_unique<NullTarget>(p.no_data, p.async); }

std::unique_ptr<Target> make_mem(const TargetParams& p) {
  const MemStore store = p.take_over ? MemStore::kAdopt : p.recoverable ? MemStore::kNamed : MemStore::kPrivate;
  return std::make_unique<MemTarget>(p.size_bytes, store, kDefaultMemStoreDir, p.hold_bytes);
}

std::unique_ptr<Target> make_loop(const TargetParams& p) {
  LoopConfig config{p.file, std::nullopt, p.logical_block, p.buffered, p.queues, p.depth};
  if (p.size_given) config.size = p.size_bytes;
  return std::make_unique<LoopTarget>(std::move(config));
}

constexpr std::array kTargets{
    TargetEntry{"null", &make_null},
    TargetEntry{"mem", &make_mem},
    TargetEntry{"loop", &make_loop},
};
}  // namespace

std::span<const TargetEntry> target_table() noexcept { return kTargets; }

const TargetEntry* find_target(std::string_view name) noexcept {
  for (const auto& entry : kTargets) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

}  // namespace ublk
