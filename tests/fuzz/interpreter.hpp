#pragma once
// Runs one fuzz program (program.hpp) against two C++ SizeClassPools, one pool made through the
// C ABI, their Caches, the process-wide Registry and the C registration calls, and checks the
// shadow model after every operation. A broken invariant aborts (check.hpp).
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "callback_heap.hpp"
#include "pool/pool.h"
#include "pool/registry.hpp"
#include "pool/size_class_pool.hpp"
#include "pool_model.hpp"
#include "program.hpp"

namespace fuzz {

class Interpreter {
 public:
  Interpreter();
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  void run(const std::uint8_t* data, std::size_t size);

 private:
  static constexpr int kPools = 3;  // 0, 1: C++ pools; 2: made by ublkpool_create
  static constexpr int kCPool = 2;
  static constexpr std::size_t kMaxCaches = 4;
  static constexpr std::size_t kMaxOps = 3000;

  enum class Origin : std::uint8_t { direct, cache, c_alloc, provider_alloc };
  struct Live {
    pool::Buffer buffer;
    const pool::BufferProvider* provider;
    PoolModel* pool;  // null for a callback provider's buffer
    std::size_t class_index;
    std::uint64_t seed;
    Origin origin;
    std::shared_ptr<pool::BufferProvider> keepalive;  // provider_alloc: to free it at teardown
  };
  struct Released {
    std::byte* data;
    pool::Buffer buffer;
    PoolModel* pool;
    const pool::BufferProvider* provider;
  };
  struct CacheSlot {
    std::unique_ptr<pool::Cache> cache;
    PoolModel* pool;
  };
  struct CallbackModel {
    std::unique_ptr<CallbackHeap> heap = std::make_unique<CallbackHeap>();
    std::shared_ptr<pool::BufferProvider> provider;  // destroyed before heap, which it frees into
    std::uint64_t failures = 0;
    std::uint64_t bytes_in_use = 0;
  };
  struct Entry {
    std::string name;
    std::shared_ptr<pool::BufferProvider> provider;
  };

  // Setup and teardown.
  PoolModel& make_pool_model(pool::PoolConfig config);
  void create_c_pool(const std::uint8_t* config);
  void teardown();
  static void reset_registry();

  // Argument decoding.
  std::size_t length(ByteReader& in, std::size_t max);
  static std::size_t alignment(ByteReader& in);
  PoolModel& pool_arg(ByteReader& in);
  CacheSlot* cache_arg(ByteReader& in, const PoolModel* of = nullptr);
  std::optional<std::size_t> live_arg(ByteReader& in);
  static const char* name_arg(ByteReader& in);

  // Operations.
  void step(Op op, ByteReader& in);
  using Acquirer = std::function<pool::Expected<pool::Buffer>()>;
  // Calls `call`, which acquires (length, alignment) from `model`'s pool one way or another, and
  // checks the outcome against the model. True if a buffer came out.
  bool acquire(PoolModel& model, std::size_t length, std::size_t alignment, Origin origin,
               const Acquirer& call, std::shared_ptr<pool::BufferProvider> keepalive = nullptr);
  void acquire_op(ByteReader& in);
  void cache_acquire_op(ByteReader& in);
  void release(std::size_t index, std::uint8_t channel);
  void release_foreign(ByteReader& in);
  void double_release(ByteReader& in);
  void exhaust(ByteReader& in);
  void drain(PoolModel& model);
  void trim(PoolModel& model);
  void reserve(ByteReader& in);
  void fixed_register(PoolModel& model);
  void fixed_unregister(PoolModel& model);
  void c_capacity(ByteReader& in);
  void c_stats_json(ByteReader& in);
  void c_recreate(ByteReader& in);
  void bad_config(ByteReader& in);
  void registry_add(ByteReader& in);
  void registry_remove(const char* name);
  void registry_set_default(const char* name);
  void c_register_pool(const char* name);
  void c_register_allocator(const char* name, std::uint8_t mode);
  void c_unregister(const char* name);
  void provider_alloc(ByteReader& in);
  bool provider_free(std::size_t index, const char* name);

  // The model.
  void add_live(const pool::Buffer& buffer, const pool::BufferProvider* provider, PoolModel* model,
                std::size_t class_index, Origin origin, std::shared_ptr<pool::BufferProvider> keepalive);
  void forget_live(std::size_t index);
  void note_released(PoolModel& model, const Live& live);
  [[nodiscard]] const char* name_for(const pool::BufferProvider* provider) const;
  [[nodiscard]] bool overlaps_live(const std::byte* data, std::size_t bytes) const;
  [[nodiscard]] bool is_live(const void* data) const;
  [[nodiscard]] std::uint64_t cached_in(const PoolModel& model) const;
  [[nodiscard]] bool idle(const PoolModel& model) const;
  [[nodiscard]] PoolModel* model_of(const pool::BufferProvider* provider);
  [[nodiscard]] CallbackModel* callback_of(const pool::BufferProvider* provider);
  [[nodiscard]] const Entry* entry(std::string_view name) const;
  [[nodiscard]] std::shared_ptr<pool::BufferProvider> expected_default() const;
  void check_all();
  void check_registry() const;
  void check_callbacks();

  static void fill(const pool::Buffer& buffer, std::uint64_t seed);
  static void verify(const pool::Buffer& buffer, std::uint64_t seed, const char* when);

  std::deque<PoolModel> pools_;          // every pool made by this program, also retired ones
  PoolModel* active_[kPools] = {};
  ublkpool_pool* c_pool_ = nullptr;
  std::vector<CacheSlot> caches_;
  std::vector<Live> live_;
  std::map<const std::byte*, std::size_t> live_by_address_;  // data -> capacity
  std::deque<Released> recent_;
  std::deque<CallbackModel> callbacks_;
  std::map<const pool::BufferProvider*, CallbackModel*> callback_providers_;
  std::vector<Entry> registry_;           // the model of pool::registry()
  std::string default_name_ = "pool";
  std::uint64_t next_seed_ = 1;
  std::uint8_t callback_mode_ = 0;
  int foreign_stack_ = 0;
};

}  // namespace fuzz
