#pragma once
#include <cstdint>
#include <span>
#include <system_error>

#include "pool/owned_buffer.hpp"
#include "ublk/ring_io.hpp"

namespace ublk {

class Completion;

// What a target may do on its queue's ring, from the queue's thread only (in handle(),
// on_io_complete() or on_queue_start()). One per queue.
class QueueContext {
 public:
  [[nodiscard]] virtual unsigned id() const noexcept = 0;
  // Queues `io` for request `tag` (in the target's hands). Its CQE comes back to
  // Target::on_io_complete(queue, tag, cookie, result) on this thread. The SQE goes to the kernel
  // at the queue's next submit, right after the current batch of work.
  virtual std::error_code submit(unsigned tag, std::uint32_t cookie, const RingIo& io) noexcept = 0;
  // The tag Target::on_io_complete sees for IO queued with submit_own: above any queue depth.
  static constexpr unsigned kOwnIo = 0xffff;
  // Queues IO of the target's own, tied to no request (a socket's receive, a timer, a wake-up):
  // its CQE comes back to on_io_complete(queue, kOwnIo, cookie, result) on this thread, whatever
  // state the tags are in.
  // A RingIo::sendmsg_zc (by submit or submit_own) comes back twice: on_io_complete, then
  // Target::on_io_notification once the kernel no longer reads its pages.
  virtual std::error_code submit_own(std::uint32_t cookie, const RingIo& io) noexcept = 0;
  // Registers descriptors as fixed files of this queue's ring (RingIo::fixed_file). Returns the
  // index of the first, or -errno. Setup: call it from on_queue_start.
  virtual int register_files(std::span<const int> fds) noexcept = 0;
  // The completion of request `tag` (for a target that finishes it from on_io_complete).
  [[nodiscard]] virtual Completion completion(unsigned tag) noexcept = 0;

 protected:
  ~QueueContext() = default;
};

// The queue's side of a request handed to a target (implemented by the queue).
class RequestOwner {
 public:
  virtual void complete(unsigned tag, std::uint32_t generation, int result, std::uint64_t copied) noexcept = 0;
  virtual pool::OwnedBuffer take_buffer(unsigned tag, std::uint32_t generation) noexcept = 0;
  virtual QueueContext& context() noexcept = 0;

 protected:
  ~RequestOwner() = default;
};

// A request in a target's hands. Call it exactly once, from any thread: on the queue's own
// thread the result is queued locally; from another thread it goes through the queue's eventfd,
// so the ring is only ever touched by its own thread. A second call is counted
// (IoStats::double_completions) and ignored.
class Completion {
 public:
  Completion(RequestOwner& owner, unsigned tag, std::uint32_t generation) noexcept
      : owner_(&owner), tag_(tag), generation_(generation) {}
  // result: bytes done (>= 0) or -errno. copied: bytes of request data the target memcpy'd
  // in user space (its store or its copy), for the stats.
  void operator()(int result, std::uint64_t copied = 0) const noexcept {
    owner_->complete(tag_, generation_, result, copied + copied_);
  }
  // Bytes of request data a decorator (a wrapping target) copied before passing the request on:
  // added to what the final call reports.
  void count_copy(std::uint64_t bytes) noexcept { copied_ += bytes; }
  // Takes the request's WRITE buffer: the queue no longer releases it; dropping the handle (from
  // any thread, whenever the target likes) does. Empty when the mode cannot give it away (copy
  // mode: the buffer is the tag's own), for other ops, or off the queue's thread. Call it before
  // completing the request.
  [[nodiscard]] pool::OwnedBuffer take_buffer() const noexcept { return owner_->take_buffer(tag_, generation_); }
  // The queue's ring, on the queue's thread only.
  [[nodiscard]] QueueContext& queue() const noexcept { return owner_->context(); }
  [[nodiscard]] unsigned tag() const noexcept { return tag_; }

 private:
  RequestOwner* owner_;
  unsigned tag_;
  std::uint32_t generation_;
  std::uint64_t copied_ = 0;
};

}  // namespace ublk
