#include "interpreter.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "check.hpp"
#include "pool/callback_provider.hpp"

namespace fuzz {

namespace {

constexpr std::size_t KiB = 1024, MiB = 1024 * KiB;
constexpr std::size_t kSizeMax = ~std::size_t{0};

pool::PoolConfig decode_config(const std::uint8_t* b, std::string name) {
  // Small limits, so that exhaustion is common; 32 MiB max so that a class can exceed the limit.
  static constexpr std::size_t kMaxSizes[] = {4 * KiB, 12 * KiB, 64 * KiB, 256 * KiB, 1 * MiB,
                                              1 * MiB + 4 * KiB, 2 * MiB, 4 * MiB, 3 * MiB, 32 * MiB};
  static constexpr std::size_t kCacheBytes[] = {4 * KiB, 64 * KiB, 2 * MiB};
  pool::PoolConfig config;
  config.name = std::move(name);
  config.max_buffer_size = kMaxSizes[b[0] % std::size(kMaxSizes)];
  config.steps_per_doubling = 1 + b[1] % 8;
  config.byte_limit = 2 * MiB * (1 + b[2] % 12) + ((b[2] & 0x80) ? 4 * KiB : 0);
  config.backing = (b[3] & 1) ? pool::BackingPolicy::thp : pool::BackingPolicy::none;
  config.cache_bytes = kCacheBytes[(b[3] >> 1) % std::size(kCacheBytes)];
  return config;
}

std::error_code errno_code(int rc) {
  switch (rc) {
    case 0: return {};
    case -EINVAL: return std::make_error_code(std::errc::invalid_argument);
    case -ENOMEM: return std::make_error_code(std::errc::not_enough_memory);
    default: fail("a C call returned ", rc, ", neither 0, -EINVAL nor -ENOMEM");
  }
}

void* refuse_alloc(void*, std::size_t, std::size_t) { return nullptr; }
void refuse_free(void*, void*, std::size_t) { fail("free of a buffer the placeholder never gave out"); }

const char* origin_name(int origin) {
  static constexpr const char* names[] = {"direct", "cache", "c_alloc", "provider_alloc"};
  return names[origin];
}

}  // namespace

bool tracing() {
  static const bool on = [] {
    const char* v = std::getenv("POOL_FUZZ_TRACE");
    return v && *v && *v != '0';
  }();
  return on;
}

Interpreter::Interpreter() = default;

Interpreter::~Interpreter() = default;

void Interpreter::reset_registry() {
  auto& registry = pool::registry();
  for (const auto& name : registry.names()) registry.remove(name);
  // The default name goes back to "pool" only through set_default(), which needs the name taken.
  auto placeholder = std::make_shared<pool::CallbackProvider>(
      "pool", pool::CallbackAllocator{&refuse_alloc, &refuse_free, nullptr});
  registry.add("pool", placeholder);
  registry.set_default("pool");
  registry.remove("pool");
}

PoolModel& Interpreter::make_pool_model(pool::PoolConfig config) {
  pools_.emplace_back(pool::make_pool(std::move(config)), pools_.size());
  return pools_.back();
}

void Interpreter::create_c_pool(const std::uint8_t* b) {
  const pool::PoolConfig wanted = decode_config(b, "pool");
  ublkpool_config config;
  ublkpool_config_init(&config);
  config.max_buffer_size = wanted.max_buffer_size;
  config.steps_per_doubling = wanted.steps_per_doubling;
  config.byte_limit = wanted.byte_limit;
  config.backing = wanted.backing == pool::BackingPolicy::thp ? UBLKPOOL_BACKING_THP : UBLKPOOL_BACKING_NONE;
  const int rc = ublkpool_create(&config, &c_pool_);
  expect(rc == 0 && c_pool_, "ublkpool_create of a valid config: ", rc);
  // The handle hides its pool; the registry hands it back as a shared_ptr.
  constexpr const char* kPeek = "fuzz: c pool";
  expect(ublkpool_register_pool(c_pool_, kPeek) == 0, "ublkpool_register_pool");
  auto pool = std::dynamic_pointer_cast<pool::SizeClassPool>(pool::registry().find(kPeek));
  expect(pool != nullptr && pool::registry().remove(kPeek), "the registered C pool is not a SizeClassPool");
  pools_.emplace_back(std::move(pool), pools_.size());
  active_[kCPool] = &pools_.back();
}

void Interpreter::run(const std::uint8_t* data, std::size_t size) {
  reset_registry();
  ByteReader in(data, size);
  std::uint8_t header[kPools][4];
  for (auto& config : header)
    for (auto& b : config) b = in.u8();
  for (int i = 0; i < kCPool; ++i) active_[i] = &make_pool_model(decode_config(header[i], "p" + std::to_string(i)));
  create_c_pool(header[kCPool]);
  for (int i = 0; i < kPools; ++i) {
    const auto& c = active_[i]->pool->config();
    trace("pool ", i, ": max ", c.max_buffer_size, " steps ", c.steps_per_doubling, " limit ", c.byte_limit,
          c.backing == pool::BackingPolicy::thp ? " thp" : " none", " cache_bytes ", c.cache_bytes);
  }
  for (std::size_t n = 0; n < kMaxOps && !in.done(); ++n) {
    const auto op = static_cast<Op>(in.u8() % static_cast<std::uint8_t>(Op::count));
    step(op, in);
    check_all();
  }
  teardown();
}

// ---- argument decoding

std::size_t Interpreter::length(ByteReader& in, std::size_t max) {
  const std::uint8_t selector = in.u8();
  const std::uint64_t value = in.u64();
  switch (selector % 16) {
    case 0: return 0;
    case 1: return 1;
    case 2: return 1 + value % 4096;
    case 3: return 4096;
    case 4: return 4097;
    case 5: return max - 1;
    case 6: return max;
    case 7: return max + 1;
    case 8: return kSizeMax;
    case 9: return kSizeMax - 4094;  // rounds up past zero
    case 10: return std::size_t{1} << 63;
    default: return 1 + value % max;
  }
}

std::size_t Interpreter::alignment(ByteReader& in) {
  const std::uint8_t selector = in.u8();
  const std::uint8_t shift = in.u8();
  switch (selector % 16) {
    case 0: return 0;
    case 1: return 1;
    case 2: return 3;
    case 3: return 8;
    case 5: return 8 * KiB;
    case 6: return 64 * KiB;
    case 7: return 1 * MiB;
    case 8: return 2 * MiB;
    case 9: return 4 * MiB;
    case 10: return std::size_t{1} << 63;
    case 11: return kSizeMax;
    case 12: return std::size_t{1} << (shift % 64);
    case 13: return shift;
    default: return 4096;
  }
}

PoolModel& Interpreter::pool_arg(ByteReader& in) { return *active_[in.u8() % kPools]; }

Interpreter::CacheSlot* Interpreter::cache_arg(ByteReader& in, const PoolModel* of) {
  const std::uint8_t b = in.u8();
  std::vector<CacheSlot*> candidates;
  for (auto& slot : caches_)
    if (!of || slot.pool == of) candidates.push_back(&slot);
  return candidates.empty() ? nullptr : candidates[b % candidates.size()];
}

std::optional<std::size_t> Interpreter::live_arg(ByteReader& in) {
  const std::uint16_t v = in.u16();
  if (live_.empty()) return std::nullopt;
  return v % live_.size();
}

const char* Interpreter::name_arg(ByteReader& in) {
  static constexpr const char* names[] = {"pool", "a", "b", "cb", "", nullptr};
  return names[in.u8() % std::size(names)];
}

// ---- the model

void Interpreter::fill(const pool::Buffer& buffer, std::uint64_t seed) {
  // memcpy: a callback provider's buffer may sit at any address.
  const std::size_t words = buffer.capacity / 8;
  for (std::size_t i = 0; i < words; ++i) {
    const std::uint64_t word = seed ^ (i * 0x9e3779b97f4a7c15ull);
    std::memcpy(buffer.data + i * 8, &word, 8);
  }
  for (std::size_t i = words * 8; i < buffer.capacity; ++i) buffer.data[i] = static_cast<std::byte>(seed + i);
}

void Interpreter::verify(const pool::Buffer& buffer, std::uint64_t seed, const char* when) {
  const std::size_t words = buffer.capacity / 8;
  for (std::size_t i = 0; i < words; ++i)
    if (std::uint64_t word; std::memcpy(&word, buffer.data + i * 8, 8), word != (seed ^ (i * 0x9e3779b97f4a7c15ull)))
      fail("buffer ", static_cast<const void*>(buffer.data), " (capacity ", buffer.capacity,
           ") was overwritten at byte ", i * 8, ", seen ", when);
  for (std::size_t i = words * 8; i < buffer.capacity; ++i)
    expect(buffer.data[i] == static_cast<std::byte>(seed + i), "buffer ", static_cast<const void*>(buffer.data),
           " was overwritten at byte ", i, ", seen ", when);
}

bool Interpreter::overlaps_live(const std::byte* data, std::size_t bytes) const {
  auto next = live_by_address_.lower_bound(data);
  if (next != live_by_address_.end() && next->first < data + bytes) return true;
  if (next == live_by_address_.begin()) return false;
  auto prev = std::prev(next);
  return prev->first + prev->second > data;
}

bool Interpreter::is_live(const void* data) const {
  return live_by_address_.count(static_cast<const std::byte*>(data)) != 0;
}

void Interpreter::add_live(const pool::Buffer& buffer, const pool::BufferProvider* provider, PoolModel* model,
                           std::size_t class_index, Origin origin,
                           std::shared_ptr<pool::BufferProvider> keepalive) {
  expect(!overlaps_live(buffer.data, buffer.capacity), "buffer ", static_cast<const void*>(buffer.data),
         " (capacity ", buffer.capacity, ") overlaps a live buffer");
  const std::uint64_t seed = next_seed_++ * 0xd1b54a32d192ed03ull;
  fill(buffer, seed);
  live_.push_back(Live{buffer, provider, model, class_index, seed, origin, std::move(keepalive)});
  live_by_address_.emplace(buffer.data, buffer.capacity);
  trace("  -> live #", live_.size() - 1, " ", static_cast<const void*>(buffer.data), " length ", buffer.length,
        " capacity ", buffer.capacity, " (", origin_name(static_cast<int>(origin)), ")");
}

void Interpreter::forget_live(std::size_t index) {
  live_by_address_.erase(live_[index].buffer.data);
  live_[index] = std::move(live_.back());
  live_.pop_back();
}

void Interpreter::note_released(PoolModel& model, const Live& live) {
  model.in_use[live.class_index]--;
  model.bytes_in_use -= live.buffer.capacity;
  recent_.push_back(Released{live.buffer.data, live.buffer, &model, live.provider});
  if (recent_.size() > 16) recent_.pop_front();
}

std::uint64_t Interpreter::cached_in(const PoolModel& model) const {
  std::uint64_t n = 0;
  for (const auto& slot : caches_)
    if (slot.pool == &model)
      for (std::size_t i = 0; i < model.sizes.size(); ++i) n += slot.cache->cached(i);
  return n;
}

bool Interpreter::idle(const PoolModel& model) const {
  return model.live_buffers() == 0 && cached_in(model) == 0 && !model.fixed_registered;
}

PoolModel* Interpreter::model_of(const pool::BufferProvider* provider) {
  for (auto& m : pools_)
    if (m.pool.get() == provider) return &m;
  return nullptr;
}

Interpreter::CallbackModel* Interpreter::callback_of(const pool::BufferProvider* provider) {
  auto it = callback_providers_.find(provider);
  return it == callback_providers_.end() ? nullptr : it->second;
}

const Interpreter::Entry* Interpreter::entry(std::string_view name) const {
  for (const auto& e : registry_)
    if (e.name == name) return &e;
  return nullptr;
}

const char* Interpreter::name_for(const pool::BufferProvider* provider) const {
  for (const auto& e : registry_)
    if (e.provider.get() == provider) return e.name.c_str();
  return nullptr;
}

std::shared_ptr<pool::BufferProvider> Interpreter::expected_default() const {
  // registry.hpp: "the one named by set_default(), else "pool", else null".
  if (const Entry* e = entry(default_name_)) return e->provider;
  if (const Entry* e = entry("pool")) return e->provider;
  return nullptr;
}

void Interpreter::check_registry() const {
  auto& registry = pool::registry();
  const auto names = registry.names();
  expect(names.size() == registry_.size(), "registry has ", names.size(), " names, model ", registry_.size());
  for (std::size_t i = 0; i < names.size(); ++i) {
    expect(names[i] == registry_[i].name, "registry name ", i, " is \"", names[i], "\", model \"",
           registry_[i].name, "\"");
    expect(registry.find(names[i]) == registry_[i].provider, "registry find(\"", names[i], "\") differs");
  }
  for (const char* name : {"pool", "a", "b", "cb", ""})
    if (!entry(name)) expect(registry.find(name) == nullptr, "registry find(\"", name, "\") of a removed name");
  expect(registry.default_provider() == expected_default(), "default_provider() differs from the model (set_default \"",
         default_name_, "\")");
}

void Interpreter::check_callbacks() {
  for (auto& [provider, model] : callback_providers_) {
    const auto stats = provider->stats();
    expect(stats.has_value(), "a callback provider without stats");
    expect(stats->bytes_in_use == model->bytes_in_use, "callback provider bytes_in_use ", stats->bytes_in_use,
           ", model ", model->bytes_in_use);
    expect(stats->acquire_failures == model->failures, "callback provider acquire_failures ",
           stats->acquire_failures, ", model ", model->failures);
  }
}

void Interpreter::check_all() {
  for (auto& m : pools_) m.check();
  check_callbacks();
  check_registry();
}

// ---- operations

void Interpreter::step(Op op, ByteReader& in) {
  switch (op) {
    case Op::acquire: acquire_op(in); break;
    case Op::cache_acquire: cache_acquire_op(in); break;
    case Op::release: {
      auto index = live_arg(in);
      const std::uint8_t channel = in.u8();
      if (index) release(*index, channel);
      break;
    }
    case Op::release_foreign: release_foreign(in); break;
    case Op::double_release: double_release(in); break;
    case Op::cache_create: {
      PoolModel& model = pool_arg(in);
      const bool via_provider = in.u8() & 1;
      if (caches_.size() >= kMaxCaches) break;
      std::unique_ptr<pool::Cache> cache;
      if (via_provider) {
        auto base = model.pool->make_cache();
        cache.reset(dynamic_cast<pool::Cache*>(base.get()));
        expect(cache != nullptr, "SizeClassPool::make_cache() is not a pool::Cache");
        (void)base.release();
      } else {
        cache = std::make_unique<pool::Cache>(*model.pool);
      }
      expect(&cache->provider() == model.pool.get(), "Cache::provider() is not its pool");
      trace("cache_create #", caches_.size(), " on pool ", model.generation);
      caches_.push_back(CacheSlot{std::move(cache), &model});
      model.caches++;
      break;
    }
    case Op::cache_destroy: {
      const std::uint8_t b = in.u8();
      if (caches_.empty()) break;
      const std::size_t i = b % caches_.size();
      trace("cache_destroy #", i);
      caches_[i].pool->caches--;
      caches_.erase(caches_.begin() + static_cast<std::ptrdiff_t>(i));
      break;
    }
    case Op::cache_flush: {
      if (CacheSlot* slot = cache_arg(in)) {
        trace("cache_flush");
        slot->cache->flush();
        for (std::size_t i = 0; i < slot->pool->sizes.size(); ++i)
          expect(slot->cache->cached(i) == 0, "a flushed cache still holds buffers of class ", i);
      }
      break;
    }
    case Op::trim: trim(pool_arg(in)); break;
    case Op::verify_all:
      for (const auto& l : live_) verify(l.buffer, l.seed, "by verify_all");
      break;
    case Op::reserve: reserve(in); break;
    case Op::fixed_register: fixed_register(pool_arg(in)); break;
    case Op::fixed_unregister: fixed_unregister(pool_arg(in)); break;
    case Op::exhaust: exhaust(in); break;
    case Op::drain: drain(pool_arg(in)); break;
    case Op::c_capacity: c_capacity(in); break;
    case Op::c_stats_json: c_stats_json(in); break;
    case Op::c_recreate: c_recreate(in); break;
    case Op::bad_config: bad_config(in); break;
    case Op::registry_add: registry_add(in); break;
    case Op::registry_remove: registry_remove(name_arg(in)); break;
    case Op::registry_set_default: registry_set_default(name_arg(in)); break;
    case Op::c_register_pool: c_register_pool(name_arg(in)); break;
    case Op::c_register_allocator: {
      const char* name = name_arg(in);
      c_register_allocator(name, in.u8());
      break;
    }
    case Op::c_unregister: c_unregister(name_arg(in)); break;
    case Op::provider_alloc: provider_alloc(in); break;
    case Op::provider_free: {
      auto index = live_arg(in);
      const char* name = name_arg(in);
      if (index) provider_free(*index, name);
      break;
    }
    case Op::callback_mode:
      callback_mode_ = in.u8();
      for (auto& cb : callbacks_)
        cb.heap->set_mode(static_cast<CallbackHeap::Mode>(callback_mode_ % static_cast<int>(CallbackHeap::Mode::count)));
      break;
    case Op::count: break;
  }
}

bool Interpreter::acquire(PoolModel& model, std::size_t length, std::size_t alignment, Origin origin,
                          const Acquirer& call, std::shared_ptr<pool::BufferProvider> keepalive) {
  const std::size_t cls = model.expected_class(length, alignment);
  const std::uint64_t mapped_before = model.pool->mapped_bytes();
  const bool was_idle = idle(model);
  trace("acquire pool ", model.generation, " length ", length, " alignment ", alignment, " (",
        origin_name(static_cast<int>(origin)), ")");
  auto got = call();
  if (cls == pool::kNoClass) {
    expect(!got && got.error() == std::errc::invalid_argument, "acquire(", length, ", ", alignment,
           ") must be invalid_argument, got ", got ? "a buffer" : got.error().message());
    model.failures++;
    return false;
  }
  model.class_acquisitions++;
  const std::uint64_t mapped = model.pool->mapped_bytes();
  const std::uint64_t limit = model.pool->config().byte_limit;
  if (!got) {
    expect(got.error() == std::errc::not_enough_memory, "acquire(", length, ", ", alignment, ") failed with ",
           got.error().message());
    model.failures++;
    trace("  -> not_enough_memory (mapped ", mapped, ")");
    if (model.footprint[cls])
      expect(mapped + model.footprint[cls] > limit, "not_enough_memory for class ", model.sizes[cls],
             " although its chunk (", model.footprint[cls], " B) fits: mapped ", mapped, ", limit ", limit);
    if (was_idle) {
      expect(!model.served[cls], "an idle pool refused class ", model.sizes[cls],
             " which it served before: no recovery after releases");
      expect(mapped == 0, "an idle pool still maps ", mapped, " bytes after a failed acquire");
    }
    return false;
  }
  const pool::Buffer& b = *got;
  const auto address = reinterpret_cast<std::uintptr_t>(b.data);
  expect(b.data != nullptr, "a null buffer");
  expect(b.length == length, "length ", b.length, ", asked ", length);
  expect(b.capacity == model.sizes[cls], "capacity ", b.capacity, " for (", length, ", ", alignment,
         "), expected class ", model.sizes[cls]);
  expect(b.owner == model.pool.get(), "owner is not the pool");
  expect(address % std::max<std::size_t>(alignment, pool::kPageSize) == 0, "buffer ", b.data,
         " not aligned to ", alignment);
  expect(model.pool->class_of(b.data) == cls, "class_of a fresh buffer is not its class");
  expect(limit == 0 || mapped <= limit, "mapped ", mapped, " past the limit ", limit);
  if (mapped_before == 0) {
    expect(mapped > 0, "a buffer out of an empty pool, yet nothing mapped");
    if (!model.footprint[cls]) model.footprint[cls] = mapped;
  }
  model.served[cls] = true;
  model.in_use[cls]++;
  model.bytes_in_use += b.capacity;
  add_live(b, model.pool.get(), &model, cls, origin, std::move(keepalive));
  return true;
}

void Interpreter::acquire_op(ByteReader& in) {
  const std::uint8_t which = in.u8();
  PoolModel& model = *active_[which % kPools];
  const std::size_t len = length(in, model.pool->config().max_buffer_size);
  const std::size_t align = alignment(in);
  if (&model == active_[kCPool] && ((which / kPools) & 1)) {
    // The C ABI: alignment 0 means 4096, and the buffer comes back as an address.
    const std::size_t effective = align ? align : pool::kPageSize;
    acquire(model, len, effective, Origin::c_alloc, [&]() -> pool::Expected<pool::Buffer> {
      void* out = reinterpret_cast<void*>(1);
      const int rc = ublkpool_alloc(c_pool_, len, align, &out);
      if (rc) {
        expect(out == nullptr, "ublkpool_alloc failed but set *out");
        return errno_code(rc);
      }
      const std::size_t cls = model.expected_class(len, effective);
      expect(cls != pool::kNoClass, "ublkpool_alloc served an invalid request");
      expect(ublkpool_capacity(c_pool_, out) == model.sizes[cls], "ublkpool_capacity of a fresh buffer");
      return pool::Buffer{static_cast<std::byte*>(out), len, model.sizes[cls], model.pool.get(), cls};
    });
    return;
  }
  acquire(model, len, align, Origin::direct, [&] { return model.pool->acquire(len, align); });
}

void Interpreter::cache_acquire_op(ByteReader& in) {
  CacheSlot* slot = cache_arg(in);
  if (!slot) {
    length(in, 1);
    alignment(in);
    return;
  }
  const std::size_t len = length(in, slot->pool->pool->config().max_buffer_size);
  const std::size_t align = alignment(in);
  acquire(*slot->pool, len, align, Origin::cache, [&] { return slot->cache->acquire(len, align); });
}

void Interpreter::release(std::size_t index, std::uint8_t channel) {
  Live l = live_[index];
  verify(l.buffer, l.seed, "at release");
  if (l.origin == Origin::provider_alloc) {
    if (const char* name = name_for(l.provider)) provider_free(index, name);
    else if (expected_default().get() == l.provider) provider_free(index, nullptr);
    return;
  }
  PoolModel& model = *l.pool;
  std::error_code ec;
  CacheSlot* slot = nullptr;
  if (channel % 6 == 2 || channel % 6 == 3) {
    std::vector<CacheSlot*> mine;
    for (auto& s : caches_)
      if (s.pool == &model) mine.push_back(&s);
    if (!mine.empty()) slot = mine[(channel >> 3) % mine.size()];
  }
  trace("release live #", index, " ", static_cast<const void*>(l.buffer.data), " channel ", channel % 6);
  switch (channel % 6) {
    case 1: ec = model.pool->release(static_cast<void*>(l.buffer.data)); break;
    case 2: ec = slot ? slot->cache->release(l.buffer) : model.pool->release(l.buffer); break;
    case 3: ec = slot ? slot->cache->release(static_cast<void*>(l.buffer.data)) : model.pool->release(l.buffer); break;
    case 4:
      if (&model == active_[kCPool]) ec = errno_code(ublkpool_free(c_pool_, l.buffer.data));
      else ec = model.pool->release(l.buffer);
      break;
    case 5: ec = static_cast<pool::BufferProvider&>(*model.pool).release(l.buffer); break;
    default: ec = model.pool->release(l.buffer); break;
  }
  expect(!ec, "release of live buffer ", static_cast<const void*>(l.buffer.data), " failed: ", ec.message());
  note_released(model, l);
  forget_live(index);
}

void Interpreter::release_foreign(ByteReader& in) {
  const std::uint8_t via = in.u8();
  const std::uint8_t kind = in.u8();
  const std::uint16_t pick = in.u16();
  const bool by_address = via % 4 == 0 || via % 4 == 3 || (via % 4 == 2 && (kind & 0x80));
  PoolModel& target = *active_[(via >> 2) % kPools];
  int on_stack = 0;
  void* heap = std::aligned_alloc(4096, 8192);
  expect(heap != nullptr, "aligned_alloc");
  pool::Buffer bad{static_cast<std::byte*>(heap), 4096, 4096, target.pool.get(), 0};
  auto pick_live = [&](bool same_pool) -> const Live* {
    std::vector<const Live*> fits;
    for (const auto& l : live_)
      if ((l.pool == &target) == same_pool) fits.push_back(&l);
    return fits.empty() ? nullptr : fits[pick % fits.size()];
  };
  switch (kind % 8) {
    case 0: bad.data = nullptr; break;
    case 1: bad.data = reinterpret_cast<std::byte*>(&on_stack); break;
    case 2: break;  // the heap block, owner forged to be the target
    case 3:
      if (const Live* l = pick_live(false)) bad = l->buffer;  // another provider's buffer
      break;
    case 4:
    case 5:
      if (const Live* l = pick_live(true)) {  // an interior address of one of its own
        static constexpr std::size_t offsets[] = {1, 8, 512, 4096, 65536};
        std::size_t offset = offsets[(kind >> 3) % std::size(offsets)];
        if (kind % 8 == 5) offset = l->buffer.capacity - 4096;
        if (offset == 0 || offset >= l->buffer.capacity) offset = 1;
        bad = l->buffer;
        bad.data += offset;
      }
      break;
    case 6:
      if (const Live* l = pick_live(true)) {  // its own buffer, but the Buffer names another owner
        bad = l->buffer;
        bad.owner = active_[((via >> 2) + 1) % kPools]->pool.get();
        if (by_address) bad.data = reinterpret_cast<std::byte*>(&on_stack);
      }
      break;
    default: bad.data = reinterpret_cast<std::byte*>(~std::uintptr_t{0} & ~std::uintptr_t{4095}); break;
  }
  trace("release_foreign ", static_cast<const void*>(bad.data), " kind ", kind % 8, " via ", via % 4, " to pool ",
        target.generation);
  std::error_code ec;
  switch (via % 4) {
    case 0: ec = target.pool->release(static_cast<void*>(bad.data)); break;
    case 1: ec = target.pool->release(bad); break;
    case 2:
      if (CacheSlot* slot = cache_arg(in, &target)) {
        ec = by_address ? slot->cache->release(static_cast<void*>(bad.data)) : slot->cache->release(bad);
      } else {
        ec = target.pool->release(bad);
      }
      break;
    default:
      ec = &target == active_[kCPool] ? errno_code(ublkpool_free(c_pool_, bad.data))
                                      : target.pool->release(static_cast<void*>(bad.data));
      break;
  }
  std::free(heap);
  expect(ec == std::errc::invalid_argument, "release of a foreign pointer ", static_cast<const void*>(bad.data),
         " gave \"", ec.message(), "\", not invalid_argument");
}

void Interpreter::double_release(ByteReader& in) {
  const std::uint8_t which = in.u8();
  const std::uint8_t channel = in.u8();
  if (recent_.empty()) return;
  const Released r = recent_[which % recent_.size()];
  if (is_live(r.data)) return;  // handed out again: a release would be legitimate
  trace("double_release ", static_cast<const void*>(r.data), " channel ", channel % 4);
  std::error_code ec;
  if (!r.pool) return;
  CacheSlot* slot = nullptr;
  for (auto& s : caches_)
    if (s.pool == r.pool && (!slot || (channel >> 2) & 1)) slot = &s;
  switch (channel % 4) {
    case 0: ec = r.pool->pool->release(r.buffer); break;
    case 1: ec = r.pool->pool->release(static_cast<void*>(r.data)); break;
    case 2: ec = slot ? slot->cache->release(r.buffer) : r.pool->pool->release(r.buffer); break;
    default:
      ec = r.pool == active_[kCPool] ? errno_code(ublkpool_free(c_pool_, r.data))
                                     : r.pool->pool->release(static_cast<void*>(r.data));
      break;
  }
  expect(ec == std::errc::invalid_argument, "a double release of ", static_cast<const void*>(r.data), " gave \"",
         ec.message(), "\", not invalid_argument");
}

void Interpreter::exhaust(ByteReader& in) {
  PoolModel& model = pool_arg(in);
  CacheSlot* slot = cache_arg(in, &model);
  const std::size_t len = length(in, model.pool->config().max_buffer_size);
  const std::size_t align = alignment(in);
  trace("exhaust pool ", model.generation, slot ? " through a cache" : "");
  for (int i = 0; i < 512; ++i) {
    const bool got = slot ? acquire(model, len, align, Origin::cache, [&] { return slot->cache->acquire(len, align); })
                          : acquire(model, len, align, Origin::direct, [&] { return model.pool->acquire(len, align); });
    if (!got) break;
  }
}

void Interpreter::drain(PoolModel& model) {
  trace("drain pool ", model.generation);
  for (std::size_t i = live_.size(); i-- > 0;)
    if (live_[i].pool == &model) release(i, static_cast<std::uint8_t>(i));
  for (auto& slot : caches_)
    if (slot.pool == &model) slot.cache->flush();
  trim(model);
  if (model.live_buffers() == 0) {
    expect(model.bytes_in_use == 0, "model bytes in use without live buffers");
    if (!model.fixed_registered)
      expect(model.pool->mapped_bytes() == 0, "a drained and trimmed pool still maps ", model.pool->mapped_bytes(),
             " bytes");
  }
}

void Interpreter::trim(PoolModel& model) {
  const std::uint64_t before = model.pool->mapped_bytes();
  const std::size_t unmapped =
      &model == active_[kCPool] ? ublkpool_trim(c_pool_) : model.pool->trim();
  const std::uint64_t after = model.pool->mapped_bytes();
  trace("trim pool ", model.generation, ": ", before, " -> ", after);
  expect(before - after == unmapped, "trim() returned ", unmapped, " but mapped went ", before, " -> ", after);
  if (idle(model)) expect(after == 0, "trim() of an idle pool left ", after, " bytes mapped");
}

void Interpreter::reserve(ByteReader& in) {
  PoolModel& model = pool_arg(in);
  const std::size_t len = length(in, model.pool->config().max_buffer_size);
  const std::uint16_t c = in.u16();
  const std::size_t count = c == 0xffff ? kSizeMax : c % 300;
  trace("reserve pool ", model.generation, " length ", len, " count ", count);
  const auto ec = model.pool->reserve(len, count);
  if (model.expected_class(len, pool::kPageSize) == pool::kNoClass)
    expect(ec == std::errc::invalid_argument, "reserve(", len, ") gave \"", ec.message(), "\"");
  else
    expect(!ec || ec == std::errc::not_enough_memory, "reserve(", len, ", ", count, ") gave \"", ec.message(), "\"");
}

void Interpreter::fixed_register(PoolModel& model) {
  trace("fixed_register pool ", model.generation);
  const auto iovecs = model.pool->register_fixed_buffers();
  model.fixed_registered = true;
  std::uint64_t total = 0;
  for (const auto& v : iovecs) total += v.iov_len;
  expect(total == model.pool->mapped_bytes(), "fixed buffers cover ", total, " bytes, mapped ",
         model.pool->mapped_bytes());
  for (const auto& l : live_) {
    if (l.pool != &model) continue;
    const auto ref = model.pool->fixed_buffer(l.buffer.data);
    expect(ref && ref->buf_index < iovecs.size(), "a live buffer outside the fixed buffers");
    const auto& v = iovecs[ref->buf_index];
    expect(static_cast<std::byte*>(v.iov_base) + ref->offset == l.buffer.data &&
               ref->offset + l.buffer.capacity <= v.iov_len,
           "fixed_buffer() of a live buffer points elsewhere");
  }
}

void Interpreter::fixed_unregister(PoolModel& model) {
  trace("fixed_unregister pool ", model.generation);
  model.pool->unregister_fixed_buffers();
  model.fixed_registered = false;
  for (const auto& l : live_)
    if (l.pool == &model)
      expect(!model.pool->fixed_buffer(l.buffer.data), "fixed_buffer() after unregister_fixed_buffers()");
}

void Interpreter::c_capacity(ByteReader& in) {
  auto index = live_arg(in);
  const std::uint8_t kind = in.u8();
  PoolModel& c = *active_[kCPool];
  int on_stack = 0;
  expect(ublkpool_capacity(c_pool_, nullptr) == 0 && ublkpool_capacity(c_pool_, &on_stack) == 0 &&
             ublkpool_capacity(nullptr, &on_stack) == 0,
         "ublkpool_capacity of a foreign pointer is not 0");
  if (!index) return;
  const Live& l = live_[*index];
  const bool mine = l.pool == &c;
  if (kind & 1) {
    if (l.buffer.capacity > 1)
      expect(ublkpool_capacity(c_pool_, l.buffer.data + 1) == 0, "ublkpool_capacity of an interior pointer");
    return;
  }
  const std::size_t got = ublkpool_capacity(c_pool_, l.buffer.data);
  expect(got == (mine ? l.buffer.capacity : 0), "ublkpool_capacity ", got, " of a ", mine ? "own" : "foreign",
         " buffer of capacity ", l.buffer.capacity);
}

void Interpreter::c_stats_json(ByteReader& in) {
  const std::uint16_t v = in.u16();
  const std::size_t size = v % 2048 + ((v & 0x8000) ? 4096 : 0);
  constexpr char kGuard = '\x5a';
  std::string text(size + 64, kGuard);
  const std::size_t full = ublkpool_stats_json(c_pool_, size ? text.data() : nullptr, size);
  trace("c_stats_json size ", size, " -> ", full);
  expect(ublkpool_stats_json(nullptr, text.data(), size) == 0, "ublkpool_stats_json(NULL pool)");
  for (std::size_t i = size; i < text.size(); ++i)
    expect(text[i] == kGuard, "ublkpool_stats_json wrote past its buffer at ", i, " (size ", size, ")");
  if (size == 0) return;
  const std::size_t written = std::min(size - 1, full);
  expect(text[written] == '\0', "ublkpool_stats_json did not NUL-terminate at ", written);
  expect(std::strlen(text.c_str()) == written, "ublkpool_stats_json wrote a NUL early");
  if (full >= size) return;
  const auto json = nlohmann::json::parse(text.c_str(), nullptr, false);
  expect(!json.is_discarded(), "ublkpool_stats_json is not JSON: ", text.c_str());
  const PoolModel& c = *active_[kCPool];
  expect(json.at("bytes_in_use").get<std::uint64_t>() == c.bytes_in_use &&
             json.at("acquire_failures").get<std::uint64_t>() == c.failures &&
             json.at("bytes_limit").get<std::uint64_t>() == c.pool->config().byte_limit &&
             json.at("classes").size() == c.sizes.size(),
         "ublkpool_stats_json differs from the model: ", text.c_str());
}

void Interpreter::c_recreate(ByteReader& in) {
  std::uint8_t config[4];
  for (auto& b : config) b = in.u8();
  PoolModel& c = *active_[kCPool];
  if (c.live_buffers() != 0 || c.caches != 0) return;
  trace("c_recreate");
  ublkpool_destroy(c_pool_);
  c_pool_ = nullptr;
  create_c_pool(config);
}

void Interpreter::bad_config(ByteReader& in) {
  const std::uint8_t which = in.u8();
  pool::PoolConfig config;
  config.backing = pool::BackingPolicy::none;
  config.byte_limit = 2 * MiB;
  ublkpool_config c;
  ublkpool_config_init(&c);
  c.backing = UBLKPOOL_BACKING_NONE;
  c.byte_limit = 2 * MiB;
  switch (which % 8) {
    case 0: config.max_buffer_size = c.max_buffer_size = 0; break;
    case 1: config.max_buffer_size = c.max_buffer_size = 4097; break;
    case 2: config.max_buffer_size = c.max_buffer_size = 32 * MiB + 4096; break;
    case 3: config.max_buffer_size = c.max_buffer_size = kSizeMax & ~std::size_t{4095}; break;
    case 4: config.steps_per_doubling = c.steps_per_doubling = 0; break;
    case 5: config.steps_per_doubling = c.steps_per_doubling = 9; break;
    case 6: config.name.clear(); c.backing = 7; break;
    default: c.backing = -1; config.max_buffer_size = c.max_buffer_size = 2048; break;
  }
  trace("bad_config ", which % 8);
  bool threw = false;
  try {
    (void)pool::make_pool(config);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  expect(threw, "a bad PoolConfig (case ", which % 8, ") did not throw std::invalid_argument");
  ublkpool_pool* out = reinterpret_cast<ublkpool_pool*>(&threw);
  expect(ublkpool_create(&c, &out) == -EINVAL && out == nullptr, "ublkpool_create of a bad config (case ",
         which % 8, ")");
  expect(ublkpool_create(nullptr, nullptr) == -EINVAL, "ublkpool_create(NULL, NULL)");
  void* p = &threw;
  expect(ublkpool_alloc(nullptr, 4096, 0, &p) == -EINVAL && ublkpool_alloc(c_pool_, 4096, 0, nullptr) == -EINVAL,
         "ublkpool_alloc with a NULL argument");
  expect(ublkpool_free(nullptr, p) == -EINVAL, "ublkpool_free(NULL pool)");
  expect(ublkpool_trim(nullptr) == 0, "ublkpool_trim(NULL)");
  ublkpool_destroy(nullptr);
}

void Interpreter::registry_add(ByteReader& in) {
  const char* raw = name_arg(in);
  const std::string name = raw ? raw : "";
  const std::uint8_t which = in.u8();
  std::shared_ptr<pool::BufferProvider> provider;
  switch (which % 5) {
    case 0:
    case 1:
    case 2: provider = active_[which % 5]->pool; break;
    case 3: {
      if (callbacks_.size() >= 8) return;
      CallbackModel& cb = callbacks_.emplace_back();
      cb.heap->set_mode(static_cast<CallbackHeap::Mode>(callback_mode_ % static_cast<int>(CallbackHeap::Mode::count)));
      provider = std::make_shared<pool::CallbackProvider>(
          name.empty() ? "unnamed" : name, pool::CallbackAllocator{&CallbackHeap::alloc, &CallbackHeap::free, cb.heap.get()});
      cb.provider = provider;
      callback_providers_[provider.get()] = &cb;
      break;
    }
    default: break;
  }
  const bool ok = !name.empty() && provider && !entry(name);
  trace("registry_add \"", name, "\" provider ", which % 5, " -> ", ok);
  expect(pool::registry().add(name, provider) == ok, "registry add(\"", name, "\") did not return ", ok);
  if (ok) registry_.push_back(Entry{name, provider});
}

void Interpreter::registry_remove(const char* raw) {
  const std::string name = raw ? raw : "";
  const bool ok = entry(name) != nullptr;
  trace("registry_remove \"", name, "\" -> ", ok);
  expect(pool::registry().remove(name) == ok, "registry remove(\"", name, "\") did not return ", ok);
  if (ok)
    registry_.erase(std::find_if(registry_.begin(), registry_.end(), [&](const Entry& e) { return e.name == name; }));
}

void Interpreter::registry_set_default(const char* raw) {
  const std::string name = raw ? raw : "";
  const bool ok = entry(name) != nullptr;
  trace("registry_set_default \"", name, "\" -> ", ok);
  expect(pool::registry().set_default(name) == ok, "registry set_default(\"", name, "\") did not return ", ok);
  if (ok) default_name_ = name;
}

void Interpreter::c_register_pool(const char* name) {
  const int expected = !name || !*name ? -EINVAL : entry(name) ? -EEXIST : 0;
  const int rc = ublkpool_register_pool(c_pool_, name);
  trace("c_register_pool \"", name ? name : "(null)", "\" -> ", rc);
  expect(rc == expected, "ublkpool_register_pool gave ", rc, ", expected ", expected);
  if (rc == 0) {
    registry_.push_back(Entry{name, pool::registry().find(name)});
    expect(registry_.back().provider == active_[kCPool]->pool, "the registered C pool is another pool");
  }
}

void Interpreter::c_register_allocator(const char* name, std::uint8_t mode) {
  if (callbacks_.size() >= 8) return;
  CallbackModel& cb = callbacks_.emplace_back();
  cb.heap->set_mode(static_cast<CallbackHeap::Mode>(mode % static_cast<int>(CallbackHeap::Mode::count)));
  const int expected = !name || !*name ? -EINVAL : entry(name) ? -EEXIST : 0;
  const int rc = ublkpool_register_allocator(name, &CallbackHeap::alloc, &CallbackHeap::free, cb.heap.get());
  trace("c_register_allocator \"", name ? name : "(null)", "\" mode ", mode % 4, " -> ", rc);
  expect(rc == expected, "ublkpool_register_allocator gave ", rc, ", expected ", expected);
  expect(ublkpool_register_allocator("x", nullptr, &CallbackHeap::free, nullptr) == -EINVAL &&
             ublkpool_register_allocator("x", &CallbackHeap::alloc, nullptr, nullptr) == -EINVAL,
         "ublkpool_register_allocator with a NULL callback");
  if (rc != 0) {
    callbacks_.pop_back();
    return;
  }
  registry_.push_back(Entry{name, pool::registry().find(name)});
  expect(registry_.back().provider != nullptr, "a registered allocator is not found");
  cb.provider = registry_.back().provider;
  callback_providers_[cb.provider.get()] = &cb;
}

void Interpreter::c_unregister(const char* name) {
  const int expected = !name ? -EINVAL : entry(name) ? 0 : -ENOENT;
  const int rc = ublkpool_unregister(name);
  trace("c_unregister \"", name ? name : "(null)", "\" -> ", rc);
  expect(rc == expected, "ublkpool_unregister gave ", rc, ", expected ", expected);
  if (rc == 0)
    registry_.erase(std::find_if(registry_.begin(), registry_.end(), [&](const Entry& e) { return e.name == name; }));
}

void Interpreter::provider_alloc(ByteReader& in) {
  const char* name = name_arg(in);
  std::shared_ptr<pool::BufferProvider> provider;
  if (name) {
    if (const Entry* e = entry(name)) provider = e->provider;
  } else {
    provider = expected_default();
  }
  const std::size_t len = length(in, provider ? std::min(provider->max_length(), 2 * CallbackHeap::kMaxLength) : 4096);
  const std::size_t align = alignment(in);
  trace("provider_alloc \"", name ? name : "(default)", "\" length ", len, " alignment ", align);
  void* out = nullptr;
  if (!provider) {
    const int rc = ublkpool_provider_alloc(name, len, align, &out);
    expect(rc == -ENOENT && out == nullptr, "ublkpool_provider_alloc of a missing provider gave ", rc);
    return;
  }
  const std::size_t effective = align ? align : pool::kPageSize;
  if (PoolModel* model = model_of(provider.get())) {
    acquire(
        *model, len, effective, Origin::provider_alloc,
        [&]() -> pool::Expected<pool::Buffer> {
          const int rc = ublkpool_provider_alloc(name, len, align, &out);
          if (rc) return errno_code(rc);
          const auto cls = model->pool->class_of(out);
          expect(cls.has_value(), "ublkpool_provider_alloc gave a pointer that is not the pool's");
          return pool::Buffer{static_cast<std::byte*>(out), len, model->sizes[*cls], model->pool.get(), *cls};
        },
        provider);
    return;
  }
  CallbackModel* cb = callback_of(provider.get());
  expect(cb != nullptr, "a registry provider the model does not know");
  const int rc = ublkpool_provider_alloc(name, len, align, &out);
  const auto outcome = cb->heap->take_outcome();
  int expected = 0;
  if (len == 0 || len > provider->max_length() || !std::has_single_bit(effective)) {
    expect(outcome == CallbackHeap::Outcome::none, "the allocator was called for a bad request");
    expected = -EINVAL;
  } else if (outcome == CallbackHeap::Outcome::null) {
    expected = -ENOMEM;
  } else if (outcome != CallbackHeap::Outcome::served) {
    expected = -EINVAL;  // misaligned or still-out memory: the provider refuses it
  }
  expect(rc == expected, "ublkpool_provider_alloc from a callback provider gave ", rc, ", expected ", expected);
  if (rc) {
    cb->failures++;
    return;
  }
  expect(reinterpret_cast<std::uintptr_t>(out) % effective == 0, "a misaligned callback buffer was handed out");
  cb->bytes_in_use += len;
  add_live(pool::Buffer{static_cast<std::byte*>(out), len, len, provider.get(), 0}, provider.get(), nullptr, 0,
           Origin::provider_alloc, provider);
}

bool Interpreter::provider_free(std::size_t index, const char* name) {
  const Live l = live_[index];
  std::shared_ptr<pool::BufferProvider> provider;
  if (name) {
    if (const Entry* e = entry(name)) provider = e->provider;
  } else {
    provider = expected_default();
  }
  int expected = !provider ? -ENOENT : -EINVAL;
  if (provider && l.origin == Origin::provider_alloc && provider.get() == l.provider) expected = 0;
  if (expected == 0) verify(l.buffer, l.seed, "at provider_free");
  const int rc = ublkpool_provider_free(name, l.buffer.data);
  trace("provider_free live #", index, " \"", name ? name : "(default)", "\" -> ", rc);
  expect(rc == expected, "ublkpool_provider_free gave ", rc, ", expected ", expected);
  if (rc != 0) return false;
  if (l.pool) {
    note_released(*l.pool, l);
  } else {
    callback_of(l.provider)->bytes_in_use -= l.buffer.length;
  }
  forget_live(index);
  return true;
}

void Interpreter::teardown() {
  trace("teardown");
  // Buffers from ublkpool_provider_alloc go back by a name that finds their provider; a
  // provider no name finds any more is registered again for that, as pool.h says.
  for (std::size_t i = live_.size(); i-- > 0;) {
    if (live_[i].origin != Origin::provider_alloc) continue;
    const char* name = name_for(live_[i].provider);
    if (name) {
      expect(provider_free(i, name), "teardown: provider_free");
      continue;
    }
    constexpr const char* kSpare = "fuzz: teardown";
    expect(pool::registry().add(kSpare, live_[i].keepalive), "teardown: re-adding a provider");
    registry_.push_back(Entry{kSpare, live_[i].keepalive});
    expect(provider_free(i, kSpare), "teardown: provider_free");
    pool::registry().remove(kSpare);
    registry_.pop_back();
  }
  for (std::size_t i = live_.size(); i-- > 0;) release(i, 0);
  for (auto& slot : caches_) slot.pool->caches--;
  caches_.clear();
  for (auto& m : pools_) {
    if (m.fixed_registered) {
      m.pool->unregister_fixed_buffers();
      m.fixed_registered = false;
    }
    m.pool->trim();
    m.check();
    expect(m.bytes_in_use == 0 && m.pool->mapped_bytes() == 0, "teardown: pool ", m.generation, " still maps ",
           m.pool->mapped_bytes(), " bytes with everything released and trimmed");
  }
  check_callbacks();
  reset_registry();
  registry_.clear();
  default_name_ = "pool";
  ublkpool_destroy(c_pool_);
  c_pool_ = nullptr;
  for (auto& active : active_) active = nullptr;
  callback_providers_.clear();
  recent_.clear();
  for (const auto& cb : callbacks_)
    expect(cb.heap->outstanding() == 0, "teardown: a callback allocator still has ", cb.heap->outstanding(),
           " blocks out");
  pools_.clear();
  callbacks_.clear();
}

}  // namespace fuzz
