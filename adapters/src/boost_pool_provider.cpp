#include "adapters/boost_pool_provider.hpp"

#include <bit>
#include <cstdlib>
#include <mutex>

#include <boost/pool/pool.hpp>

#include "adapters/request_check.hpp"

namespace adapters {

namespace {
// boost::pool places chunks at multiples of the chunk size from the block start, so a page-
// aligned block and page-multiple chunk sizes make every chunk page aligned.
struct PageAlignedBlocks {
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  static char* malloc(size_type bytes) {
    void* p = nullptr;
    return posix_memalign(&p, pool::kPageSize, bytes) == 0 ? static_cast<char*>(p) : nullptr;
  }
  static void free(char* block) { std::free(block); }
};

constexpr std::size_t kBlockBytes = std::size_t{1} << 20;  // boost grows a class by this much at first
}  // namespace

struct BoostPoolProvider::SizeClass {
  explicit SizeClass(std::size_t size)
      : chunk(size), pool(size, std::max<std::size_t>(1, kBlockBytes / size), std::max<std::size_t>(1, 8 * kBlockBytes / size)) {}
  std::size_t chunk;
  std::mutex mutex;
  boost::pool<PageAlignedBlocks> pool;
};

BoostPoolProvider::BoostPoolProvider(std::string name, ProviderConfig config)
    : name_(std::move(name)), config_(config), recorder_(name_, config.max_length, config.byte_limit) {
  const std::size_t top = std::bit_ceil(std::max(config_.max_length, pool::kPageSize));
  for (std::size_t size = pool::kPageSize; size <= top; size *= 2)
    classes_.push_back(std::make_unique<SizeClass>(size));
}

BoostPoolProvider::~BoostPoolProvider() = default;

pool::Expected<pool::Buffer> BoostPoolProvider::acquire(std::size_t length, std::size_t alignment) noexcept {
  if (auto bad = check_request(length, alignment, config_.max_length, pool::kPageSize)) {
    recorder_.refuse();
    return bad;
  }
  const std::size_t size = std::bit_ceil(std::max(length, pool::kPageSize));
  const auto index = static_cast<std::size_t>(std::countr_zero(size / pool::kPageSize));
  auto& cls = *classes_[index];
  if (!recorder_.reserve(cls.chunk)) return std::errc::not_enough_memory;
  void* data = nullptr;
  {
    std::lock_guard lock(cls.mutex);
    data = cls.pool.malloc();
  }
  if (!data) {
    recorder_.cancel(cls.chunk);
    return std::errc::not_enough_memory;
  }
  recorder_.commit(cls.chunk);
  return pool::Buffer{static_cast<std::byte*>(data), length, cls.chunk, this, index};
}

std::error_code BoostPoolProvider::release(const pool::Buffer& buffer) noexcept {
  if (buffer.owner != this || !buffer.data || buffer.cookie >= classes_.size())
    return std::make_error_code(std::errc::invalid_argument);
  auto& cls = *classes_[buffer.cookie];
  {
    std::lock_guard lock(cls.mutex);
    if (!cls.pool.is_from(buffer.data)) return std::make_error_code(std::errc::invalid_argument);
    cls.pool.free(buffer.data);
  }
  recorder_.release(cls.chunk);
  return {};
}

}  // namespace adapters
