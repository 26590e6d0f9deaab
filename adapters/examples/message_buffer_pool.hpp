#pragma once
// The example app's own allocator: message buffers in the style of an RPC framework (think
// brpc's IOBuf blocks or folly's IOBuf): reference counted, so a consumer keeps a buffer by
// taking a reference instead of copying out of it. Registered as a pool::BufferProvider, it
// becomes the buffer source of a ublk device, and a target that takes a reference on a WRITE's
// buffer keeps the data where the kernel put it.
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "adapters/stats_recorder.hpp"
#include "pool/buffer_provider.hpp"

namespace example {

class MessageBufferPool;

// One reference on a message buffer. Movable, not copyable; the last one gives the buffer back.
class MessageRef {
 public:
  MessageRef() = default;
  MessageRef(MessageBufferPool* pool, std::byte* block) noexcept : pool_(pool), block_(block) {}
  MessageRef(MessageRef&& other) noexcept : pool_(other.pool_), block_(other.block_) { other.pool_ = nullptr; }
  MessageRef& operator=(MessageRef&& other) noexcept;
  MessageRef(const MessageRef&) = delete;
  MessageRef& operator=(const MessageRef&) = delete;
  ~MessageRef() { reset(); }

  [[nodiscard]] MessageRef share() const noexcept;  // one more reference on the same buffer
  void reset() noexcept;
  [[nodiscard]] std::byte* block() const noexcept { return pool_ ? block_ : nullptr; }
  explicit operator bool() const noexcept { return pool_ != nullptr; }

 private:
  MessageBufferPool* pool_ = nullptr;
  std::byte* block_ = nullptr;
};

// Power-of-two classes from 4 KiB to max_length, carved from one mmap of `arena_bytes` and
// recycled through per-class free lists. Thread-safe (one lock: an example, not a fast path).
class MessageBufferPool final : public pool::BufferProvider {
 public:
  MessageBufferPool(std::size_t max_length, std::size_t arena_bytes);  // throws std::bad_alloc
  ~MessageBufferPool() override;
  MessageBufferPool(const MessageBufferPool&) = delete;
  MessageBufferPool& operator=(const MessageBufferPool&) = delete;

  [[nodiscard]] std::string_view name() const noexcept override { return "app_messages"; }
  [[nodiscard]] pool::Expected<pool::Buffer> acquire(std::size_t length,
                                                     std::size_t alignment = pool::kPageSize) noexcept override;
  // Drops the reference acquire() gave; the buffer is free once no MessageRef holds it.
  std::error_code release(const pool::Buffer& buffer) noexcept override;
  [[nodiscard]] std::size_t max_length() const noexcept override { return max_length_; }
  [[nodiscard]] std::optional<pool::ProviderStats> stats() const override { return recorder_.snapshot(); }

  // A reference on the buffer that holds `p` (any address inside it); empty if no live buffer
  // of this pool does.
  [[nodiscard]] MessageRef retain(const void* p) noexcept;
  [[nodiscard]] bool owns(const void* p) const noexcept {
    return p >= base_ && p < base_ + arena_bytes_;
  }
  [[nodiscard]] std::size_t live_buffers() const;

 private:
  friend class MessageRef;
  struct Block {
    std::size_t capacity = 0;
    unsigned refs = 0;
  };
  void add_ref(std::byte* block) noexcept;
  void drop_ref(std::byte* block) noexcept;

  std::size_t max_length_;
  std::size_t arena_bytes_;
  std::byte* base_ = nullptr;
  mutable std::mutex mutex_;
  std::size_t carved_ = 0;                        // bump pointer into the arena
  std::vector<std::vector<std::byte*>> free_;     // per class
  std::map<std::byte*, Block> live_;              // block start -> its header
  adapters::StatsRecorder recorder_;
};

}  // namespace example
