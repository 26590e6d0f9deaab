#include "adapters/mimalloc_provider.hpp"

#include <atomic>
#include <cstdint>

#include <mimalloc.h>

#include "adapters/request_check.hpp"

namespace adapters {

namespace {
// A number for the calling thread that no other thread ever gets, unlike std::thread::id, which
// a new thread may reuse once the old one has exited (and mimalloc has deleted its heaps).
std::uint64_t thread_serial() noexcept {
  static std::atomic<std::uint64_t> next{1};
  thread_local const std::uint64_t serial = next.fetch_add(1, std::memory_order_relaxed);
  return serial;
}
}  // namespace

MimallocProvider::MimallocProvider(std::string name, ProviderConfig config)
    : name_(std::move(name)), config_(config), recorder_(name_, config.max_length, config.byte_limit) {}

pool::Expected<pool::Buffer> MimallocProvider::acquire_from(void* heap, std::size_t length,
                                                            std::size_t alignment) noexcept {
  if (auto bad = check_request(length, alignment, config_.max_length, kMaxAlignment)) {
    recorder_.refuse();
    return bad;
  }
  if (!recorder_.reserve(length)) return std::errc::not_enough_memory;
  void* data = heap ? mi_heap_malloc_aligned(static_cast<mi_heap_t*>(heap), length, alignment)
                    : mi_malloc_aligned(length, alignment);
  if (!data) {
    recorder_.cancel(length);
    return std::errc::not_enough_memory;
  }
  recorder_.commit(length);
  return pool::Buffer{static_cast<std::byte*>(data), length, length, this, 0};
}

pool::Expected<pool::Buffer> MimallocProvider::acquire(std::size_t length, std::size_t alignment) noexcept {
  return acquire_from(nullptr, length, alignment);
}

std::error_code MimallocProvider::release(const pool::Buffer& buffer) noexcept {
  if (buffer.owner != this || !buffer.data || buffer.length == 0)
    return std::make_error_code(std::errc::invalid_argument);
  mi_free(buffer.data);  // any thread: mimalloc queues a foreign block to its owning heap
  recorder_.release(buffer.length);
  return {};
}

// One queue's heap. Bound to the first thread that acquires through it.
class MimallocCache final : public pool::BufferCache {
 public:
  explicit MimallocCache(MimallocProvider& provider) : provider_(provider) {}
  ~MimallocCache() override {
    if (heap_ && owner_ == thread_serial()) mi_heap_delete(heap_);
  }
  MimallocCache(const MimallocCache&) = delete;
  MimallocCache& operator=(const MimallocCache&) = delete;

  pool::Expected<pool::Buffer> acquire(std::size_t length, std::size_t alignment) noexcept override {
    const auto me = thread_serial();
    if (!heap_) {
      heap_ = mi_heap_new();
      owner_ = me;
    }
    return provider_.acquire_from(owner_ == me ? heap_ : nullptr, length, alignment);
  }
  std::error_code release(const pool::Buffer& buffer) noexcept override { return provider_.release(buffer); }
  pool::BufferProvider& provider() noexcept override { return provider_; }

 private:
  MimallocProvider& provider_;
  mi_heap_t* heap_ = nullptr;
  std::uint64_t owner_ = 0;  // thread_serial() of the heap's thread
};

std::unique_ptr<pool::BufferCache> MimallocProvider::make_cache() {
  return std::make_unique<MimallocCache>(*this);
}

}  // namespace adapters
