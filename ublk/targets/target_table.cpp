#include "target_table.hpp"

#include <array>

#include "mem_target.hpp"
#include "null_target.hpp"

namespace ublk {

namespace {
std::unique_ptr<Target> make_null(const TargetParams& p) { return std::make_unique<NullTarget>(p.no_data, p.async); }

std::unique_ptr<Target> make_mem(const TargetParams& p) {
  const MemStore store = p.take_over ? MemStore::kAdopt : p.recoverable ? MemStore::kNamed : MemStore::kPrivate;
  return std::make_unique<MemTarget>(p.size_bytes, store, kDefaultMemStoreDir, p.hold_bytes);
}

constexpr std::array kTargets{
    TargetEntry{"null", &make_null},
    TargetEntry{"mem", &make_mem},
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
