#pragma once
// The C allocator the fuzzer registers through ublkpool_register_allocator: malloc-backed, with
// a small byte budget, and modes that break the allocator contract on purpose. It checks the
// provider's side of the contract: free() gets back a pointer alloc() gave out, once, with the
// exact length alloc() was asked for.
#include <cstddef>
#include <cstdint>
#include <map>

namespace fuzz {

class CallbackHeap {
 public:
  enum class Mode : std::uint8_t { normal, null, misaligned, duplicate, count };
  enum class Outcome : std::uint8_t { none, served, null, misaligned, duplicate };

  static constexpr std::size_t kMaxLength = std::size_t{1} << 20;
  static constexpr std::size_t kMaxAlignment = std::size_t{64} << 10;
  static constexpr std::size_t kBudget = std::size_t{4} << 20;

  CallbackHeap() = default;
  CallbackHeap(const CallbackHeap&) = delete;
  CallbackHeap& operator=(const CallbackHeap&) = delete;
  ~CallbackHeap();

  static void* alloc(void* ctx, std::size_t length, std::size_t alignment);
  static void free(void* ctx, void* data, std::size_t length);

  void set_mode(Mode mode) noexcept { mode_ = mode; }
  // What the last alloc() call did (none: it was not called).
  Outcome take_outcome() noexcept { Outcome o = last_; last_ = Outcome::none; return o; }
  [[nodiscard]] std::size_t outstanding() const noexcept { return blocks_.size(); }

 private:
  struct Block {
    void* real;
    std::size_t length;
  };
  void* allocate(std::size_t length, std::size_t alignment);
  void release(void* data, std::size_t length);

  Mode mode_ = Mode::normal;
  Outcome last_ = Outcome::none;
  std::size_t bytes_ = 0;
  std::map<void*, Block> blocks_;
};

}  // namespace fuzz
