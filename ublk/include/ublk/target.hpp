#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <system_error>
#include <vector>

#include "pool/owned_buffer.hpp"
#include "ublk/ring_io.hpp"
#include "ublk/uapi.hpp"

namespace ublk {

// One block request as a target sees it.
struct Request {
  uapi::IoOp op = uapi::IoOp::kRead;
  std::uint32_t flags = 0;     // UBLK_IO_F_* (FUA, ...)
  std::uint64_t offset = 0;    // bytes from the start of the device
  std::uint32_t length = 0;    // bytes
  // WRITE: the data, already in a provider buffer. READ: where to put the data. Empty for ops
  // without data, and for a target that said it needs no data.
  std::span<std::byte> data;
  // When `data` lies in pool memory registered as io_uring fixed buffers on this queue's ring:
  // the buffer index for RingIo::read_fixed / write_fixed (addresses stay data.data()). -1: none.
  int fixed_buffer = -1;
  unsigned queue = 0;
  unsigned tag = 0;
};

class Completion;

// What a target tells the device about itself before ADD_DEV's parameters are set.
struct TargetTraits {
  bool volatile_cache = false;  // the backing has a write cache: the kernel sends FLUSH (and FUA)
  bool fua = false;             // the target honours UBLK_IO_F_FUA on WRITEs
  std::uint32_t max_discard_bytes = 0;       // 0: no DISCARD
  std::uint32_t max_write_zeroes_bytes = 0;  // 0: no WRITE_ZEROES
  std::uint32_t discard_granularity = 0;     // bytes; 0: the logical block
};

// A counter of the target's own, for the daemon's report.
struct TargetCounter {
  std::string_view name;
  std::uint64_t value = 0;
};

// What a target may do on its queue's ring, from the queue's thread only (in handle(),
// on_io_complete() or on_queue_start()). One per queue.
class QueueContext {
 public:
  [[nodiscard]] virtual unsigned id() const noexcept = 0;
  // Queues `io` for request `tag` (in the target's hands). Its CQE comes back to
  // Target::on_io_complete(queue, tag, cookie, result) on this thread. The SQE goes to the kernel
  // at the queue's next submit, right after the current batch of work.
  virtual std::error_code submit(unsigned tag, std::uint32_t cookie, const RingIo& io) noexcept = 0;
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
    owner_->complete(tag_, generation_, result, copied);
  }
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
};

// What serves the requests. Small on purpose, like the kernel selftest server's ops table.
// A simple target implements handle() and completes there or from any thread; a target with
// its own IO queues it on the ring (QueueContext) and completes from on_io_complete().
class Target {
 public:
  virtual ~Target() = default;
  [[nodiscard]] virtual std::string_view name() const noexcept = 0;
  // false: WRITE data need not reach user space and READs need not be filled (pure frontend
  // overhead runs); the queue then skips buffers where the mode allows.
  [[nodiscard]] virtual bool wants_data() const noexcept { return true; }
  // Called on the queue's thread. The request's data span stays valid until `done` is called
  // (or, after done.take_buffer(), as long as the target keeps the handle).
  virtual void handle(const Request& request, Completion done) noexcept = 0;
  // Device parameters the target needs (cache, FUA, discard); the defaults ask for none.
  [[nodiscard]] virtual TargetTraits traits() const noexcept { return {}; }
  // The target's own counters, for the report; safe from any thread while the queues run.
  [[nodiscard]] virtual std::vector<TargetCounter> counters() const { return {}; }
  // A CQE of an IO the target queued with QueueContext::submit, on the queue's thread.
  virtual void on_io_complete(QueueContext& /*queue*/, unsigned /*tag*/, std::uint32_t /*cookie*/,
                              int /*result*/) noexcept {}
  // On each queue's thread before its first request (register files, per-queue state). Setup:
  // may throw, which fails the device's start.
  virtual void on_queue_start(QueueContext& /*queue*/) {}
  // On the queue's thread after its last request, before its ring closes.
  virtual void on_queue_stop(QueueContext& /*queue*/) noexcept {}
  // The device has its number (after ADD_DEV, or when a daemon takes a device over), before
  // any request: a target may name what must outlive the daemon after it. Setup: may throw.
  virtual void on_device_added(unsigned /*dev_id*/) {}
  // The device is gone for good (DEL_DEV succeeded): whatever was kept for a takeover can go.
  virtual void on_device_deleted() noexcept {}
};

}  // namespace ublk
