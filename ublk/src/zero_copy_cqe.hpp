#pragma once
#include <cstdint>

#include "queue_ring.hpp"
#include "ublk/target.hpp"

namespace ublk {

// A zero-copy send completes twice: its result (Cqe::kMore when a notification follows), then the
// notification (Cqe::kNotification). The target sees exactly one of each: when the kernel posts
// no notification (the send failed before it took any page), one with result 0 is made up.
// Returns true once the IO is over (its notification delivered).
inline bool deliver_zero_copy_cqe(Target& target, QueueContext& queue, unsigned tag, std::uint32_t cookie,
                                  const Cqe& cqe) noexcept {
  if (cqe.flags & Cqe::kNotification) {
    target.on_io_notification(queue, tag, cookie, cqe.res);
    return true;
  }
  target.on_io_complete(queue, tag, cookie, cqe.res);
  if (cqe.flags & Cqe::kMore) return false;
  target.on_io_notification(queue, tag, cookie, 0);
  return true;
}

}  // namespace ublk
