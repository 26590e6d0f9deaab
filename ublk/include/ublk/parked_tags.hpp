#pragma once
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace ublk {

// What an IO does when the provider has no buffer for it.
enum class ExhaustionPolicy : std::uint8_t {
  kWait,  // park the tag and retry, bounded by ParkedTags::kMaxWait, then fail
  kFail,  // complete the IO with -ENOMEM at once
};
std::optional<ExhaustionPolicy> parse_exhaustion_policy(std::string_view text) noexcept;
std::string_view to_string(ExhaustionPolicy policy) noexcept;

// The tags of one queue that wait for a provider buffer (ExhaustionPolicy::kWait), oldest first.
// Used by the queue's thread only, so it needs no lock: the queue tries them again when a buffer
// comes back, and at the oldest one's deadline.
class ParkedTags {
 public:
  // Where the tag stopped: before NEED_GET_DATA (a get_data WRITE) or before the target.
  enum class Step : std::uint8_t { kNeedData, kRequest };
  struct Entry {
    unsigned tag;
    Step step;
  };
  using Clock = std::chrono::steady_clock;
  // Past this an IO stops waiting and fails with -ENOMEM: a bounded wait, never a hang.
  static constexpr auto kMaxWait = std::chrono::seconds(10);

  explicit ParkedTags(unsigned depth) : since_(depth) {
    waiting_.reserve(depth);
    retrying_.reserve(depth);
  }

  // Returns true when the tag was not already waiting (a new wait, worth counting).
  bool park(unsigned tag, Step step) {
    waiting_.push_back({tag, step});
    if (since_[tag] != Clock::time_point{}) return false;
    since_[tag] = Clock::now();
    return true;
  }
  [[nodiscard]] bool empty() const noexcept { return waiting_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return waiting_.size(); }
  // Hands every waiting tag over for a retry; a retry that fails parks the tag again.
  const std::vector<Entry>& take() {
    retrying_.swap(waiting_);
    waiting_.clear();
    return retrying_;
  }
  [[nodiscard]] bool expired(unsigned tag, Clock::time_point now) const noexcept {
    return now - since_[tag] > kMaxWait;
  }
  void resolved(unsigned tag) noexcept { since_[tag] = {}; }
  // When the longest wait runs out.
  [[nodiscard]] Clock::time_point oldest_deadline() const noexcept {
    Clock::time_point oldest = Clock::now();
    for (const auto& entry : waiting_) oldest = std::min(oldest, since_[entry.tag]);
    return oldest + kMaxWait;
  }
  [[nodiscard]] bool is_waiting_last(unsigned tag) const noexcept {
    return !waiting_.empty() && waiting_.back().tag == tag;
  }

 private:
  std::vector<Entry> waiting_;
  std::vector<Entry> retrying_;
  std::vector<Clock::time_point> since_;  // by tag: when its current wait began, or zero
};

}  // namespace ublk
