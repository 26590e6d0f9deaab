#include "adapters/pmr_provider.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <utility>
#include <vector>

#include "provider_contract.hpp"

namespace adapters {
namespace {

// Records every call, and refuses once `budget` bytes are out.
class RecordingResource final : public std::pmr::memory_resource {
 public:
  explicit RecordingResource(std::size_t budget) : budget_(budget) {}
  std::vector<std::pair<std::size_t, std::size_t>> allocated, deallocated;

 private:
  void* do_allocate(std::size_t bytes, std::size_t alignment) override {
    if (out_ + bytes > budget_) throw std::bad_alloc();
    allocated.emplace_back(bytes, alignment);
    out_ += bytes;
    return std::pmr::new_delete_resource()->allocate(bytes, alignment);
  }
  void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
    deallocated.emplace_back(bytes, alignment);
    out_ -= bytes;
    std::pmr::new_delete_resource()->deallocate(p, bytes, alignment);
  }
  bool do_is_equal(const std::pmr::memory_resource& o) const noexcept override { return this == &o; }
  std::size_t budget_;
  std::size_t out_ = 0;
};

TEST(PmrProvider, PassesExactSizeAndAlignmentBackOnFree) {
  RecordingResource resource(std::size_t{64} << 20);
  PmrProvider provider("rec", &resource, testing::test_config(), PmrProvider::Threading::needs_lock);
  // Over-aligned (4096, 8192 > alignof(max_align_t)) and smaller than the alignment.
  auto a = provider.acquire(100, 4096);
  auto b = provider.acquire(5000, 8192);
  auto c = provider.acquire(4096, 16);
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a->data) % 4096, 0u);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b->data) % 8192, 0u);
  EXPECT_EQ(a->capacity, 100u);
  EXPECT_FALSE(provider.release(*b));
  EXPECT_FALSE(provider.release(*a));
  EXPECT_FALSE(provider.release(*c));
  using P = std::pair<std::size_t, std::size_t>;
  EXPECT_EQ(resource.allocated, (std::vector<P>{{100, 4096}, {5000, 8192}, {4096, 16}}));
  EXPECT_EQ(resource.deallocated, (std::vector<P>{{5000, 8192}, {100, 4096}, {4096, 16}}));
}

TEST(PmrProvider, AResourceThatThrowsBecomesNotEnoughMemory) {
  RecordingResource resource(8192);
  auto config = testing::test_config();
  config.byte_limit = 0;  // the resource's own budget is the only limit
  PmrProvider provider("rec", &resource, config, PmrProvider::Threading::needs_lock);
  auto a = provider.acquire(8192);
  ASSERT_TRUE(a);
  auto b = provider.acquire(4096);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error(), std::make_error_code(std::errc::not_enough_memory));
  EXPECT_EQ(provider.stats()->acquire_failures, 1u);
  EXPECT_EQ(provider.stats()->bytes_in_use, 8192u);
  EXPECT_FALSE(provider.release(*a));
  auto c = provider.acquire(4096);  // room again once a buffer is back
  ASSERT_TRUE(c);
  EXPECT_FALSE(provider.release(*c));
}

TEST(PmrProvider, RefusesABufferOfAnotherProvider) {
  PmrProvider one("one", std::pmr::new_delete_resource(), testing::test_config());
  PmrProvider two("two", std::pmr::new_delete_resource(), testing::test_config());
  auto b = one.acquire(4096);
  ASSERT_TRUE(b);
  EXPECT_EQ(two.release(*b), std::make_error_code(std::errc::invalid_argument));
  EXPECT_FALSE(one.release(*b));
}

TEST(PmrProvider, ALockMakesAnUnsynchronizedResourceSafe) {
  PmrProvider provider("unsync", std::make_unique<std::pmr::unsynchronized_pool_resource>(),
                       testing::test_config(), PmrProvider::Threading::needs_lock);
  auto work = [&] {
    for (int i = 0; i < 500; ++i) {
      auto b = provider.acquire(4096 * (1 + i % 4));
      ASSERT_TRUE(b);
      b->data[0] = std::byte{1};
      EXPECT_FALSE(provider.release(*b));
    }
  };
  std::thread a(work), b(work);
  a.join();
  b.join();
  EXPECT_EQ(provider.stats()->bytes_in_use, 0u);
  EXPECT_EQ(provider.stats()->classes[0].hits, 250u);  // a quarter of 2 x 500 were 4 KiB
}

}  // namespace
}  // namespace adapters
