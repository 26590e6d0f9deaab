#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <map>
#include <span>
#include <utility>

namespace ublk {

// The runs of device bytes a target keeps in buffers it holds (WRITE buffers taken with
// Completion::take_buffer, an application's own message buffers) instead of copying them into
// its store: a map by device offset whose runs never overlap. `Ref` keeps a run's buffer alive;
// when a run is cut in two, both parts share it (Ref's copy, or its share() where it has one).
// Not thread-safe: the target serialises access.
template <class Ref>
class HeldExtents {
 public:
  struct Extent {
    std::uint64_t length = 0;
    const std::byte* data = nullptr;
    Ref ref;
  };

  // [offset, offset + length) now reads from `data`, which `ref` keeps alive.
  void put(std::uint64_t offset, std::uint64_t length, const std::byte* data, Ref ref) {
    punch(offset, length);
    extents_.emplace(offset, Extent{length, data, std::move(ref)});
  }

  // Forgets [offset, offset + length); a run the range cuts keeps its parts outside it.
  void punch(std::uint64_t offset, std::uint64_t length) {
    const std::uint64_t end = offset + length;
    auto it = extents_.lower_bound(offset);
    if (it != extents_.begin()) {
      auto prev = std::prev(it);
      if (prev->first + prev->second.length > offset) it = prev;
    }
    while (it != extents_.end() && it->first < end) {
      const std::uint64_t start = it->first;
      const std::uint64_t stop = start + it->second.length;
      Extent cut = std::move(it->second);
      it = extents_.erase(it);
      if (start < offset) extents_.emplace(start, Extent{offset - start, cut.data, share(cut.ref)});
      if (stop > end) {
        it = extents_.emplace(end, Extent{stop - end, cut.data + (end - start), share(cut.ref)}).first;
        ++it;
      }
    }
  }

  // Copies the held bytes of [offset, offset + out.size()) over `out`; the rest is untouched.
  void overlay(std::uint64_t offset, std::span<std::byte> out) const noexcept {
    const std::uint64_t end = offset + out.size();
    auto it = extents_.lower_bound(offset);
    if (it != extents_.begin()) --it;
    for (; it != extents_.end() && it->first < end; ++it) {
      const std::uint64_t from = std::max(offset, it->first);
      const std::uint64_t to = std::min(end, it->first + it->second.length);
      if (from < to) std::memcpy(out.data() + (from - offset), it->second.data + (from - it->first), to - from);
    }
  }

  void clear() noexcept { extents_.clear(); }
  [[nodiscard]] const std::map<std::uint64_t, Extent>& extents() const noexcept { return extents_; }

 private:
  static Ref share(const Ref& ref) {
    if constexpr (requires { ref.share(); }) {
      return ref.share();
    } else {
      return ref;
    }
  }

  std::map<std::uint64_t, Extent> extents_;
};

}  // namespace ublk
