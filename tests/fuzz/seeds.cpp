#include "seeds.hpp"

#include "program.hpp"

namespace fuzz {

namespace {

// The pool byte of Op::acquire: pool index, plus 3 to go through ublkpool_alloc (C pool only).
constexpr std::uint8_t kCAlloc = 2 + 3;

// Pool configs: max-size selector, steps, limit selector (2 MiB * (1 + n)), backing|cache bits.
ProgramWriter header(std::uint8_t max0, std::uint8_t steps0, std::uint8_t limit0, std::uint8_t bits0 = 0) {
  ProgramWriter w;
  w.byte(max0).byte(steps0).byte(limit0).byte(bits0);
  w.byte(2).byte(1).byte(3).byte(1);  // pool 1: 64 KiB max, 2 steps, 8 MiB, THP
  w.byte(4).byte(0).byte(2).byte(0);  // C pool: 1 MiB max, 6 MiB
  return w;
}

ProgramWriter& acquire(ProgramWriter& w, std::uint8_t pool, std::uint8_t len_sel, std::uint64_t len,
                       std::uint8_t align_sel = sel::align_page, std::uint8_t shift = 0) {
  return w.op(Op::acquire).byte(pool).length(len_sel, len).alignment(align_sel, shift);
}

ProgramWriter& release(ProgramWriter& w, std::uint16_t live, std::uint8_t channel) {
  return w.op(Op::release).u16(live).byte(channel);
}

std::vector<std::uint8_t> basic() {
  auto w = header(4, 0, 3);
  for (std::uint64_t len : {1ull, 4095ull, 4096ull, 70000ull, 300000ull}) acquire(w, 0, sel::random, len - 1);
  acquire(w, 1, sel::max, 0);
  acquire(w, 2, sel::page, 0);
  acquire(w, kCAlloc, sel::random, 5000, sel::align_zero);  // through ublkpool_alloc
  for (std::uint8_t channel = 0; channel < 6; ++channel) release(w, 0, channel);
  w.op(Op::verify_all);
  w.op(Op::trim).byte(0).op(Op::trim).byte(2);
  w.op(Op::c_stats_json).u16(1500).op(Op::c_stats_json).u16(10).op(Op::c_stats_json).u16(0);
  return w.bytes();
}

std::vector<std::uint8_t> exhaust_and_recover() {
  auto w = header(4, 0, 1);  // 1 MiB max, 4 MiB limit
  w.op(Op::exhaust).byte(0).byte(0).length(sel::random, 65535).alignment(sel::align_page);
  acquire(w, 0, sel::max, 0);  // another class: the limit is reached
  w.op(Op::exhaust).byte(1).byte(0).length(sel::random, 4095).alignment(sel::align_page);
  w.op(Op::drain).byte(0);
  acquire(w, 0, sel::max, 0);
  w.op(Op::drain).byte(0).op(Op::drain).byte(1);
  return w.bytes();
}

std::vector<std::uint8_t> caches_across() {
  auto w = header(4, 1, 5, 2);  // cache_bytes 64 KiB: small bins that flush often
  w.op(Op::cache_create).byte(0).byte(0).op(Op::cache_create).byte(0).byte(1).op(Op::cache_create).byte(1).byte(0);
  for (int i = 0; i < 40; ++i) w.op(Op::cache_acquire).byte(0).length(sel::random, 8191).alignment(sel::align_page);
  for (int i = 0; i < 40; ++i) release(w, 0, static_cast<std::uint8_t>(i % 2 ? 2 : 3 | 8));  // through either cache
  w.op(Op::exhaust).byte(0).byte(1).length(sel::random, 200000).alignment(sel::align_64k);
  w.op(Op::cache_flush).byte(0).op(Op::trim).byte(0);
  w.op(Op::cache_acquire).byte(2).length(sel::random, 100).alignment(sel::align_8k);
  w.op(Op::cache_destroy).byte(0).op(Op::drain).byte(0).op(Op::cache_destroy).byte(0);
  return w.bytes();
}

std::vector<std::uint8_t> hostile() {
  auto w = header(5, 3, 2);
  const std::uint8_t lengths[] = {sel::zero, sel::one, sel::max_minus_1, sel::max, sel::max_plus_1, sel::size_max, 9, 10};
  const std::uint8_t aligns[] = {sel::align_zero,   sel::align_one,  sel::align_three,   sel::align_2m,
                                 sel::align_4m,     sel::align_top_bit, sel::align_size_max, 13};
  for (std::uint8_t pool : {std::uint8_t{0}, std::uint8_t{2}, kCAlloc})
    for (auto l : lengths) acquire(w, pool, l, 0, aligns[l % 8], 7);
  acquire(w, 0, sel::random, 100000).op(Op::cache_create).byte(0).byte(0);
  acquire(w, 1, sel::random, 3000);
  acquire(w, 2, sel::random, 3000);
  for (std::uint8_t kind = 0; kind < 8; ++kind)
    for (std::uint8_t via = 0; via < 12; ++via) w.op(Op::release_foreign).byte(via).byte(kind | (via << 4)).u16(via).byte(0);
  release(w, 0, 0).op(Op::double_release).byte(0).byte(0).op(Op::double_release).byte(0).byte(1);
  release(w, 0, 2).op(Op::double_release).byte(0).byte(2).op(Op::double_release).byte(0).byte(3);
  for (std::uint8_t which = 0; which < 8; ++which) w.op(Op::bad_config).byte(which);
  w.op(Op::reserve).byte(0).length(sel::zero).u16(1).op(Op::reserve).byte(0).length(sel::random, 5000).u16(0xffff);
  return w.bytes();
}

std::vector<std::uint8_t> registry() {
  auto w = header(3, 0, 4);
  w.op(Op::registry_add).byte(0).byte(0);   // "pool" -> pool 0
  w.op(Op::registry_add).byte(1).byte(3);   // "a" -> a callback provider
  w.op(Op::registry_add).byte(0).byte(1);   // "pool" again: taken
  w.op(Op::registry_add).byte(4).byte(1);   // "": refused
  w.op(Op::registry_add).byte(2).byte(4);   // null provider
  w.op(Op::c_register_pool).byte(2);        // "b" -> the C pool
  w.op(Op::c_register_allocator).byte(3).byte(0);  // "cb"
  w.op(Op::c_register_allocator).byte(3).byte(0);  // taken
  w.op(Op::c_register_allocator).byte(5).byte(0);  // null name
  for (std::uint8_t name = 0; name < 6; ++name)
    w.op(Op::provider_alloc).byte(name).length(sel::random, 20000).alignment(sel::align_page);
  w.op(Op::registry_set_default).byte(3).op(Op::provider_alloc).byte(5).length(sel::random, 10).alignment(sel::align_one);
  w.op(Op::registry_set_default).byte(2).op(Op::registry_set_default).byte(4);
  for (std::uint8_t mode = 1; mode < 4; ++mode) {
    w.op(Op::callback_mode).byte(mode);
    w.op(Op::provider_alloc).byte(3).length(sel::random, 300).alignment(sel::align_64k);
    w.op(Op::provider_alloc).byte(1).length(sel::random, 300).alignment(sel::align_one);
  }
  w.op(Op::callback_mode).byte(0);
  w.op(Op::provider_free).u16(0).byte(0).op(Op::provider_free).u16(1).byte(3).op(Op::provider_free).u16(2).byte(5);
  w.op(Op::c_unregister).byte(3).op(Op::c_unregister).byte(3).op(Op::c_unregister).byte(5);
  w.op(Op::registry_remove).byte(2).op(Op::provider_alloc).byte(5).length(sel::random, 10).alignment(sel::align_page);
  w.op(Op::registry_remove).byte(0).op(Op::registry_remove).byte(0);
  w.op(Op::c_recreate).byte(7).byte(2).byte(6).byte(1);
  return w.bytes();
}

std::vector<std::uint8_t> c_abi_and_fixed() {
  auto w = header(2, 0, 2);
  for (int i = 0; i < 6; ++i) acquire(w, kCAlloc, sel::random, 100000u * i, sel::align_zero);
  for (std::uint16_t i = 0; i < 6; ++i) w.op(Op::c_capacity).u16(i).byte(static_cast<std::uint8_t>(i));
  w.op(Op::fixed_register).byte(2).op(Op::fixed_register).byte(0);
  acquire(w, 0, sel::random, 30000);
  w.op(Op::drain).byte(0).op(Op::trim).byte(2);
  w.op(Op::fixed_unregister).byte(2).op(Op::fixed_unregister).byte(0);
  w.op(Op::drain).byte(2).op(Op::c_recreate).byte(8).byte(7).byte(9).byte(3);
  acquire(w, kCAlloc, sel::max, 0, sel::align_1m);
  w.op(Op::c_stats_json).u16(3000);
  return w.bytes();
}

std::vector<std::uint8_t> too_big_for_the_limit() {
  auto w = header(9, 0, 1);  // 32 MiB max, 4 MiB limit: the largest classes never fit
  acquire(w, 0, sel::max, 0);
  acquire(w, 0, sel::random, (3u << 20) - 1);
  acquire(w, 0, sel::random, 4095);
  w.op(Op::drain).byte(0);
  acquire(w, 0, sel::max, 0);
  return w.bytes();
}

}  // namespace

std::vector<std::pair<std::string, std::vector<std::uint8_t>>> seed_programs() {
  return {{"seed-basic", basic()},
          {"seed-exhaust-and-recover", exhaust_and_recover()},
          {"seed-caches-across", caches_across()},
          {"seed-hostile", hostile()},
          {"seed-registry", registry()},
          {"seed-c-abi-and-fixed", c_abi_and_fixed()},
          {"seed-too-big-for-the-limit", too_big_for_the_limit()}};
}

}  // namespace fuzz
