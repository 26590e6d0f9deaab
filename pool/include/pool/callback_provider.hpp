#pragma once
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "pool/buffer_provider.hpp"
#include "pool/size_classes.hpp"

namespace pool {

// An allocator given as a C function pair with a context (the C ABI's way in).
// alloc returns null when it cannot serve; free gets back exactly the length alloc was asked for.
struct CallbackAllocator {
  void* (*alloc)(void* ctx, std::size_t length, std::size_t alignment) = nullptr;
  void (*free)(void* ctx, void* data, std::size_t length) = nullptr;
  void* ctx = nullptr;
};

// A BufferProvider over a CallbackAllocator. It keeps each outstanding buffer's length, so a
// release hands free() the exact length and a pointer it never gave out is refused. Stats have
// libpool's shape: power-of-two classes from 4 KiB; every successful acquisition is a hit (the
// callbacks do not say when they refill); the memory counts as backing.other_bytes.
class CallbackProvider final : public BufferProvider {
 public:
  // Throws std::invalid_argument if a callback is null or the name empty.
  CallbackProvider(std::string name, CallbackAllocator allocator,
                   std::size_t max_length = kMaxBufferSizeLimit);
  // Outstanding buffers are freed through the callbacks.
  ~CallbackProvider() override;

  [[nodiscard]] std::string_view name() const noexcept override { return name_; }
  [[nodiscard]] Expected<Buffer> acquire(std::size_t length,
                                         std::size_t alignment = kPageSize) noexcept override;
  std::error_code release(const Buffer& buffer) noexcept override;
  std::error_code release(void* data) noexcept;
  [[nodiscard]] std::size_t max_length() const noexcept override { return max_length_; }
  [[nodiscard]] std::optional<ProviderStats> stats() const override;

 private:
  struct ClassCounters {
    std::uint64_t hits = 0, in_use = 0, peak = 0;
  };
  ClassCounters& counters_for(std::size_t length) noexcept;

  std::string name_;
  CallbackAllocator allocator_;
  std::size_t max_length_;
  mutable std::mutex mutex_;
  std::unordered_map<void*, std::size_t> outstanding_;
  std::vector<ClassCounters> classes_;
  std::uint64_t failures_ = 0;
  std::uint64_t bytes_in_use_ = 0;
};

}  // namespace pool
