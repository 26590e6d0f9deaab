#include "callback_heap.hpp"

#include <algorithm>
#include <cstdlib>

#include "check.hpp"

namespace fuzz {

CallbackHeap::~CallbackHeap() {
  for (auto& [data, block] : blocks_) std::free(block.real);
}

void* CallbackHeap::alloc(void* ctx, std::size_t length, std::size_t alignment) {
  return static_cast<CallbackHeap*>(ctx)->allocate(length, alignment);
}

void CallbackHeap::free(void* ctx, void* data, std::size_t length) {
  static_cast<CallbackHeap*>(ctx)->release(data, length);
}

void* CallbackHeap::allocate(std::size_t length, std::size_t alignment) {
  expect(length != 0 && (alignment & (alignment - 1)) == 0,
         "callback alloc called with length ", length, " alignment ", alignment);
  if (mode_ == Mode::duplicate && !blocks_.empty()) {
    // Also misaligned for this request: the provider must refuse it without freeing it
    // (corpus/regress-callback-duplicate-misaligned).
    last_ = Outcome::duplicate;
    return blocks_.begin()->first;
  }
  if (mode_ == Mode::null || length > kMaxLength || alignment > kMaxAlignment || bytes_ + length > kBudget) {
    last_ = Outcome::null;
    return nullptr;
  }
  const bool misalign = mode_ == Mode::misaligned;
  void* real = nullptr;
  if (posix_memalign(&real, std::max(alignment, sizeof(void*)), length + misalign) != 0) {
    last_ = Outcome::null;
    return nullptr;
  }
  void* data = static_cast<std::byte*>(real) + misalign;
  // One past an aligned address is still aligned to 1.
  last_ = misalign && alignment > 1 ? Outcome::misaligned : Outcome::served;
  blocks_.emplace(data, Block{real, length});
  bytes_ += length;
  return data;
}

void CallbackHeap::release(void* data, std::size_t length) {
  auto it = blocks_.find(data);
  expect(it != blocks_.end(), "callback free of ", data, ", which alloc did not give out (or twice)");
  expect(it->second.length == length, "callback free of ", data, " with length ", length, ", alloc was asked for ",
         it->second.length);
  std::free(it->second.real);
  bytes_ -= length;
  blocks_.erase(it);
}

}  // namespace fuzz
