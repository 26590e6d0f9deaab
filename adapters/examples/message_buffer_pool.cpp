#include "message_buffer_pool.hpp"

#include <sys/mman.h>

#include <bit>
#include <new>

#include "adapters/request_check.hpp"

namespace example {

MessageRef& MessageRef::operator=(MessageRef&& other) noexcept {
  if (this != &other) {
    reset();
    pool_ = other.pool_;
    block_ = other.block_;
    other.pool_ = nullptr;
  }
  return *this;
}

MessageRef MessageRef::share() const noexcept {
  if (!pool_) return {};
  pool_->add_ref(block_);
  return MessageRef(pool_, block_);
}

void MessageRef::reset() noexcept {
  if (pool_) pool_->drop_ref(block_);
  pool_ = nullptr;
}

namespace {
std::size_t class_of(std::size_t capacity) {
  return static_cast<std::size_t>(std::countr_zero(capacity / pool::kPageSize));
}
}  // namespace

MessageBufferPool::MessageBufferPool(std::size_t max_length, std::size_t arena_bytes)
    : max_length_(max_length), arena_bytes_(arena_bytes), recorder_("app_messages", max_length, arena_bytes) {
  void* p = mmap(nullptr, arena_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  base_ = static_cast<std::byte*>(p);
  free_.resize(class_of(std::bit_ceil(std::max(max_length_, pool::kPageSize))) + 1);
}

MessageBufferPool::~MessageBufferPool() { munmap(base_, arena_bytes_); }

pool::Expected<pool::Buffer> MessageBufferPool::acquire(std::size_t length, std::size_t alignment) noexcept {
  if (auto bad = adapters::check_request(length, alignment, max_length_, pool::kPageSize)) {
    recorder_.refuse();
    return bad;
  }
  const std::size_t capacity = std::bit_ceil(std::max(length, pool::kPageSize));
  if (!recorder_.reserve(capacity)) return std::errc::not_enough_memory;
  std::byte* block = nullptr;
  try {
    std::lock_guard lock(mutex_);
    auto& list = free_[class_of(capacity)];
    if (!list.empty()) {
      block = list.back();
      list.pop_back();
    } else if (carved_ + capacity <= arena_bytes_) {
      // Blocks of a class are carved at multiples of their own size: every block is aligned.
      carved_ = (carved_ + capacity - 1) / capacity * capacity;
      if (carved_ + capacity <= arena_bytes_) {
        block = base_ + carved_;
        carved_ += capacity;
      }
    }
    if (block) live_[block] = Block{capacity, 1};
  } catch (...) {  // the map's node allocation
    block = nullptr;
  }
  if (!block) {
    recorder_.cancel(capacity);
    return std::errc::not_enough_memory;
  }
  recorder_.commit(capacity);
  return pool::Buffer{block, length, capacity, this, 0};
}

std::error_code MessageBufferPool::release(const pool::Buffer& buffer) noexcept {
  if (buffer.owner != this || !owns(buffer.data)) return std::make_error_code(std::errc::invalid_argument);
  {
    std::lock_guard lock(mutex_);
    if (!live_.count(buffer.data)) return std::make_error_code(std::errc::invalid_argument);
  }
  drop_ref(buffer.data);
  return {};
}

MessageRef MessageBufferPool::retain(const void* p) noexcept {
  if (!owns(p)) return {};
  std::lock_guard lock(mutex_);
  auto it = live_.upper_bound(static_cast<std::byte*>(const_cast<void*>(p)));
  if (it == live_.begin()) return {};
  --it;
  if (static_cast<const std::byte*>(p) >= it->first + it->second.capacity) return {};
  ++it->second.refs;
  return MessageRef(this, it->first);
}

std::size_t MessageBufferPool::live_buffers() const {
  std::lock_guard lock(mutex_);
  return live_.size();
}

void MessageBufferPool::add_ref(std::byte* block) noexcept {
  std::lock_guard lock(mutex_);
  if (auto it = live_.find(block); it != live_.end()) ++it->second.refs;
}

void MessageBufferPool::drop_ref(std::byte* block) noexcept {
  std::size_t freed = 0;
  {
    std::lock_guard lock(mutex_);
    auto it = live_.find(block);
    if (it == live_.end() || --it->second.refs > 0) return;
    freed = it->second.capacity;
    try {
      free_[class_of(freed)].push_back(block);
    } catch (...) {  // no room to remember it: the block is lost to this pool, nothing breaks
    }
    live_.erase(it);
  }
  recorder_.release(freed);
}

}  // namespace example
