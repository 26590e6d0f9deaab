// The example plugin: an application's own allocator, brought in without recompiling the daemon.
//
//   ublk-pool-mem --provider-lib build/lib/libublkpool_example_slab.so --provider example_slab
//
// "example_slab" is the simplest pool there is: one mmap cut into fixed slots of max_length
// bytes, a free list under a lock. Everything a plugin needs is here: a BufferProvider, and the
// one exported C function that adds it to the host's registry.
#include <sys/mman.h>

#include <cerrno>
#include <exception>
#include <mutex>
#include <new>
#include <vector>

#include "adapters/plugin_support.hpp"
#include "adapters/request_check.hpp"
#include "adapters/stats_recorder.hpp"

namespace {

class SlabProvider final : public pool::BufferProvider {
 public:
  SlabProvider(std::size_t slot_bytes, std::size_t slots)
      : slot_(slot_bytes), slots_(slots), recorder_("example_slab", slot_bytes, slot_bytes * slots) {
    void* p = mmap(nullptr, slot_ * slots_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    base_ = static_cast<std::byte*>(p);
    for (std::size_t i = slots_; i > 0; --i) free_.push_back(i - 1);
  }
  ~SlabProvider() override { munmap(base_, slot_ * slots_); }

  std::string_view name() const noexcept override { return "example_slab"; }
  std::size_t max_length() const noexcept override { return slot_; }
  std::optional<pool::ProviderStats> stats() const override { return recorder_.snapshot(); }

  pool::Expected<pool::Buffer> acquire(std::size_t length, std::size_t alignment) noexcept override {
    if (auto bad = adapters::check_request(length, alignment, slot_, pool::kPageSize)) {
      recorder_.refuse();
      return bad;
    }
    std::size_t slot = 0;
    {
      std::lock_guard lock(mutex_);
      if (free_.empty()) {
        recorder_.refuse();
        return std::errc::not_enough_memory;
      }
      slot = free_.back();
      free_.pop_back();
    }
    (void)recorder_.reserve(slot_);  // the slab itself is the limit
    recorder_.commit(slot_);
    return pool::Buffer{base_ + slot * slot_, length, slot_, this, slot};
  }

  std::error_code release(const pool::Buffer& buffer) noexcept override {
    if (buffer.owner != this || buffer.cookie >= slots_ || buffer.data != base_ + buffer.cookie * slot_)
      return std::make_error_code(std::errc::invalid_argument);
    {
      std::lock_guard lock(mutex_);
      free_.push_back(buffer.cookie);  // capacity reserved in the constructor: cannot throw
    }
    recorder_.release(slot_);
    return {};
  }

 private:
  std::size_t slot_;
  std::size_t slots_;
  std::byte* base_ = nullptr;
  std::mutex mutex_;
  std::vector<std::size_t> free_;
  adapters::StatsRecorder recorder_;
};

}  // namespace

extern "C" __attribute__((visibility("default"))) int ublkpool_plugin_register(ublkpool_plugin_host* host) {
  namespace ap = adapters::plugin;
  if (!host || host->abi_version != UBLKPOOL_PLUGIN_ABI_VERSION) return -EINVAL;
  const std::size_t slot = (host->max_length + pool::kPageSize - 1) / pool::kPageSize * pool::kPageSize;
  if (slot == 0) {
    ap::set_error(*host, "example_slab: max_length is 0");
    return -EINVAL;
  }
  // Default to 64 slots when the host sets no byte limit.
  const std::size_t slots = host->byte_limit ? std::max<std::size_t>(1, host->byte_limit / slot) : 64;
  try {
    if (!ap::add(*host, "example_slab", std::make_shared<SlabProvider>(slot, slots))) return -EEXIST;
  } catch (const std::exception& e) {
    ap::set_error(*host, std::string("example_slab: ") + e.what());
    return -ENOMEM;
  }
  return 0;
}
