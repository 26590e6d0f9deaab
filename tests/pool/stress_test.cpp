// Many threads, each with its own cache, trading buffers; every buffer is handed to one holder.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "pool/size_class_pool.hpp"

namespace {

struct Tag {
  std::uint64_t holder;
  std::uint64_t serial;
};

TEST(Stress, ThreadsTradingBuffersThroughCaches) {
  pool::PoolConfig config;
  config.backing = pool::BackingPolicy::none;
  config.byte_limit = std::size_t{128} << 20;
  auto p = pool::make_pool(config);
  constexpr int kThreads = 4;
  constexpr int kOps = 20000;
  std::mutex exchange_mutex;
  std::vector<std::pair<pool::Buffer, int>> exchange;  // buffer and the thread that tagged it
  std::atomic<int> corrupt{0}, errors{0};

  auto worker = [&](int id) {
    pool::Cache cache(*p);
    std::mt19937 rng(static_cast<unsigned>(id));
    std::vector<pool::Buffer> mine;
    std::uint64_t serial = 0;
    const std::size_t sizes[] = {4096, 12288, 65536, 200000, 1 << 20};
    auto check_and_release = [&](pool::Buffer b, std::uint64_t expected_holder) {
      Tag tag;
      std::memcpy(&tag, b.data + b.length - sizeof tag, sizeof tag);
      if (tag.holder != expected_holder) ++corrupt;
      if (cache.release(b)) ++errors;
    };
    for (int op = 0; op < kOps; ++op) {
      const unsigned dice = rng() % 8;
      if (dice < 4 || mine.empty()) {
        auto b = (dice == 0 ? p->acquire(sizes[rng() % 5]) : cache.acquire(sizes[rng() % 5]));
        if (!b) {
          if (b.error() != std::errc::not_enough_memory) ++errors;
          continue;
        }
        Tag tag{static_cast<std::uint64_t>(id), ++serial};
        std::memcpy(b->data + b->length - sizeof tag, &tag, sizeof tag);
        mine.push_back(*b);
      } else if (dice < 6) {
        pool::Buffer b = mine.back();
        mine.pop_back();
        check_and_release(b, static_cast<std::uint64_t>(id));
      } else if (dice < 7) {
        pool::Buffer b = mine.back();
        mine.pop_back();
        std::lock_guard lock(exchange_mutex);
        exchange.emplace_back(b, id);
      } else {
        std::unique_lock lock(exchange_mutex);
        if (exchange.empty()) continue;
        auto [b, tagger] = exchange.back();
        exchange.pop_back();
        lock.unlock();
        check_and_release(b, static_cast<std::uint64_t>(tagger));  // another thread's buffer, intact
      }
    }
    for (auto& b : mine) check_and_release(b, static_cast<std::uint64_t>(id));
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) threads.emplace_back(worker, i);
  for (auto& t : threads) t.join();
  for (auto& [b, tagger] : exchange) EXPECT_FALSE(p->release(b));

  EXPECT_EQ(corrupt.load(), 0);
  EXPECT_EQ(errors.load(), 0);
  const auto s = *p->stats();
  for (const auto& c : s.classes) EXPECT_EQ(c.in_use, 0u) << c.size;
  EXPECT_LE(p->mapped_bytes(), config.byte_limit);
  const std::uint64_t mapped = p->mapped_bytes();
  EXPECT_EQ(p->trim(), mapped);
  EXPECT_EQ(p->mapped_bytes(), 0u);
}

}  // namespace
