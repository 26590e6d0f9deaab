#include "pool/arena_allocator.hpp"

#include <stdexcept>

namespace pool {

ArenaAllocator::ArenaAllocator(std::span<std::byte> memory, const SizeClasses& classes)
    : memory_(memory), classes_(classes) {
  if (reinterpret_cast<std::uintptr_t>(memory.data()) % kPageSize != 0 || memory.size() % kPageSize != 0 ||
      memory.empty()) {
    throw std::invalid_argument("ArenaAllocator: the memory must be whole pages, page-aligned");
  }
  if (classes.count() >= kNoBuffer) throw std::invalid_argument("ArenaAllocator: too many size classes");
  const std::size_t pages = memory.size() / kPageSize;
  if (pages > UINT32_MAX) throw std::invalid_argument("ArenaAllocator: the memory is too large");
  head_class_.assign(pages, kNoBuffer);
  out_.assign(pages, false);
  // Room for every buffer a class could ever have, so that release() never allocates.
  free_.resize(classes.count());
  for (std::size_t c = 0; c < classes.count(); ++c) free_[c].reserve(memory.size() / classes.size(c));
}

Expected<std::byte*> ArenaAllocator::acquire(std::size_t length) noexcept {
  const std::size_t c = classes_.index_for(length);
  if (c == kNoClass) return std::errc::invalid_argument;
  std::size_t page;
  if (!free_[c].empty()) {
    page = free_[c].back();
    free_[c].pop_back();
  } else {
    const std::size_t pages = classes_.size(c) / kPageSize;
    if (pages > head_class_.size() - carved_pages_) return std::errc::not_enough_memory;
    page = carved_pages_;
    carved_pages_ += pages;
    head_class_[page] = static_cast<std::uint8_t>(c);
  }
  out_[page] = true;
  bytes_out_ += classes_.size(c);
  return memory_.data() + page * kPageSize;
}

std::size_t ArenaAllocator::page_of(const void* data) const noexcept {
  const auto at = reinterpret_cast<std::uintptr_t>(data);
  const auto base = reinterpret_cast<std::uintptr_t>(memory_.data());
  if (at < base || at >= base + memory_.size() || (at - base) % kPageSize != 0) return head_class_.size();
  return (at - base) / kPageSize;
}

std::error_code ArenaAllocator::release(const void* data) noexcept {
  const std::size_t page = page_of(data);
  if (page >= head_class_.size() || !out_[page]) return std::make_error_code(std::errc::invalid_argument);
  const std::uint8_t c = head_class_[page];
  out_[page] = false;
  bytes_out_ -= classes_.size(c);
  free_[c].push_back(static_cast<std::uint32_t>(page));
  return {};
}

std::size_t ArenaAllocator::capacity(const void* data) const noexcept {
  const std::size_t page = page_of(data);
  return page < head_class_.size() && out_[page] ? classes_.size(head_class_[page]) : 0;
}

bool ArenaAllocator::contains(const void* data) const noexcept {
  const auto at = reinterpret_cast<std::uintptr_t>(data);
  const auto base = reinterpret_cast<std::uintptr_t>(memory_.data());
  return at >= base && at < base + memory_.size();
}

}  // namespace pool
