#pragma once
// The fuzz input format: a small header (pool configs), then operations, one opcode byte each
// followed by its argument bytes. Reading past the end yields zeros, so every byte string is a
// valid program; ProgramWriter builds the same encoding for the seed corpus.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace fuzz {

enum class Op : std::uint8_t {
  acquire,            // pool(1) length(1+8) alignment(1+1)
  cache_acquire,      // cache(1) length alignment
  release,            // live(2) channel(1)
  release_foreign,    // target(1) kind(1) live(2)
  double_release,     // recent(1) channel(1)
  cache_create,       // pool(1) via_make_cache(1)
  cache_destroy,      // cache(1)
  cache_flush,        // cache(1)
  trim,               // pool(1)
  verify_all,         //
  reserve,            // pool(1) length count(2)
  fixed_register,     // pool(1)
  fixed_unregister,   // pool(1)
  exhaust,            // pool(1) cache(1) length alignment
  drain,              // pool(1)
  c_capacity,         // live(2) kind(1)
  c_stats_json,       // size(2)
  c_recreate,         // config(4)
  bad_config,         // which(1)
  registry_add,       // name(1) provider(1)
  registry_remove,    // name(1)
  registry_set_default,  // name(1)
  c_register_pool,    // name(1)
  c_register_allocator,  // name(1) mode(1)
  c_unregister,       // name(1)
  provider_alloc,     // name(1) length alignment
  provider_free,      // live(2) name(1)
  callback_mode,      // mode(1)
  count
};

class ByteReader {
 public:
  ByteReader(const std::uint8_t* data, std::size_t size) noexcept : data_(data), size_(size) {}

  [[nodiscard]] bool done() const noexcept { return pos_ >= size_; }
  std::uint8_t u8() noexcept { return pos_ < size_ ? data_[pos_++] : 0; }
  std::uint16_t u16() noexcept { return static_cast<std::uint16_t>(u8() | (u8() << 8)); }
  std::uint64_t u64() noexcept {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= std::uint64_t{u8()} << (8 * i);
    return v;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

// Selector bytes for lengths and alignments (see Interpreter::length / alignment).
namespace sel {
inline constexpr std::uint8_t zero = 0, one = 1, page = 3, max_minus_1 = 5, max = 6,
                              max_plus_1 = 7, size_max = 8, random = 11;
inline constexpr std::uint8_t align_zero = 0, align_one = 1, align_three = 2, align_page = 4,
                              align_8k = 5, align_64k = 6, align_1m = 7, align_2m = 8,
                              align_4m = 9, align_top_bit = 10, align_size_max = 11;
}  // namespace sel

class ProgramWriter {
 public:
  ProgramWriter& byte(std::uint8_t b) { bytes_.push_back(b); return *this; }
  ProgramWriter& u16(std::uint16_t v) { return byte(v & 0xff).byte(v >> 8); }
  ProgramWriter& u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) byte(static_cast<std::uint8_t>(v >> (8 * i)));
    return *this;
  }
  ProgramWriter& op(Op o) { return byte(static_cast<std::uint8_t>(o)); }
  // A length argument: selector then 8 bytes of random value (used by sel::random).
  ProgramWriter& length(std::uint8_t selector, std::uint64_t value = 0) { return byte(selector).u64(value); }
  ProgramWriter& alignment(std::uint8_t selector, std::uint8_t shift = 0) { return byte(selector).byte(shift); }
  [[nodiscard]] const std::vector<std::uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<std::uint8_t> bytes_;
};

}  // namespace fuzz
