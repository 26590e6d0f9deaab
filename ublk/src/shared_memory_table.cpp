#include "shared_memory_table.hpp"

#include <thread>

namespace ublk {

SharedMemoryTable::SharedMemoryTable(unsigned capacity)
    : capacity_(capacity), entries_(std::make_unique<Entry[]>(capacity)) {}

bool SharedMemoryTable::publish(unsigned index, std::span<std::byte> memory) noexcept {
  if (index >= capacity_) return false;
  Entry& entry = entries_[index];
  if (entry.live.load()) return false;
  entry.data.store(memory.data());
  entry.bytes.store(memory.size());
  entry.live.store(true);  // after data and bytes: a lookup that sees it live sees them
  return true;
}

void SharedMemoryTable::withdraw(unsigned index) noexcept {
  if (index < capacity_) entries_[index].live.store(false);
}

bool SharedMemoryTable::wait_idle(unsigned index, std::chrono::milliseconds timeout) const noexcept {
  if (index >= capacity_) return true;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (entries_[index].holders.load() != 0) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

unsigned SharedMemoryTable::holders(unsigned index) const noexcept {
  return index < capacity_ ? entries_[index].holders.load() : 0;
}

bool SharedMemoryTable::live(unsigned index) const noexcept { return index < capacity_ && entries_[index].live.load(); }

std::span<std::byte> SharedMemoryTable::acquire(unsigned index, std::uint64_t offset, std::uint64_t length) noexcept {
  if (index >= capacity_) return {};
  Entry& entry = entries_[index];
  if (!entry.live.load()) return {};
  // Held first, then checked again: a withdraw() in between either sees this holder or made the
  // entry dead before we looked.
  entry.holders.fetch_add(1);
  if (!entry.live.load()) {
    entry.holders.fetch_sub(1);
    return {};
  }
  std::byte* const data = entry.data.load();
  const std::size_t bytes = entry.bytes.load();
  if (data == nullptr || offset > bytes || length > bytes - offset) {
    entry.holders.fetch_sub(1);
    return {};
  }
  return {data + offset, static_cast<std::size_t>(length)};
}

void SharedMemoryTable::release(unsigned index) noexcept {
  if (index < capacity_) entries_[index].holders.fetch_sub(1);
}

}  // namespace ublk
