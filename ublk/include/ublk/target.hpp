#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ublk/completion.hpp"
#include "ublk/request.hpp"

namespace ublk {

// What a target tells the device about itself before ADD_DEV's parameters are set.
struct TargetTraits {
  // What the backend imposes on the device's shape (a file's size, an export's block size, a
  // server's connection limit); 0 leaves the daemon's setting as it is.
  std::uint64_t size_bytes = 0;
  std::uint32_t logical_block = 0;
  unsigned max_queues = 0;
  std::uint32_t max_io_bytes = 0;
  bool read_only = false;
  bool volatile_cache = false;  // the backing has a write cache: the kernel sends FLUSH (and FUA)
  bool fua = false;             // the target honours UBLK_IO_F_FUA on WRITEs
  std::uint32_t max_discard_bytes = 0;       // 0: no DISCARD
  std::uint32_t max_write_zeroes_bytes = 0;  // 0: no WRITE_ZEROES
  std::uint32_t discard_granularity = 0;     // bytes; 0: the logical block
  // The target does READ_FIXED/WRITE_FIXED on request buffers (Request::fixed_buffer): only then
  // are the pool's regions registered with each queue's ring and looked up per request.
  bool fixed_buffers = false;
  // The target waits on a backend (a file, a server): the queue times each request from
  // handle() to its completion (IoStats::backend_latency_us). Two clock reads per request, so
  // only where there is a backend to time.
  bool time_backend = false;
  // The target serves READ/WRITE from the request's own pages registered in its queue's ring
  // (Request::registered_pages, RingIo::read_registered): it can run in Mode::kZeroCopy.
  bool zero_copy = false;
};

// A counter of the target's own, for the daemon's report.
struct TargetCounter {
  std::string_view name;
  std::uint64_t value = 0;
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
  // One line about the backend for the daemon's log (a file and how it is opened, an export);
  // empty: nothing to say.
  [[nodiscard]] virtual std::string describe() const { return {}; }
  // The target's own counters, for the report; safe from any thread while the queues run.
  [[nodiscard]] virtual std::vector<TargetCounter> counters() const { return {}; }
  // A CQE of an IO the target queued with QueueContext::submit (tag: its request's) or
  // submit_own (tag: QueueContext::kOwnIo), on the queue's thread.
  virtual void on_io_complete(QueueContext& /*queue*/, unsigned /*tag*/, std::uint32_t /*cookie*/,
                              int /*result*/) noexcept {}
  // On the queue's thread once it has handled every CQE of one wake-up, before it submits and
  // sleeps again: a target that gathers its IO (one send for the requests of many CQEs) starts
  // it here.
  virtual void on_batch_end(QueueContext& /*queue*/) noexcept {}
  // The second CQE of a zero-copy send (RingIo::sendmsg_zc, same tag and cookie): the kernel no
  // longer uses its pages. Exactly once per such IO, after its on_io_complete; the queue counts
  // the IO in flight until then. result: 0, or RingIo::kZeroCopyCopied when the kernel copied
  // after all (asked with RingIo::report_usage). When the kernel posts none (the send failed
  // before taking any page), the queue calls it with 0 right after on_io_complete.
  virtual void on_io_notification(QueueContext& /*queue*/, unsigned /*tag*/, std::uint32_t /*cookie*/,
                                  int /*result*/) noexcept {}
  // On each queue's thread before its first request (register files, per-queue state). Setup:
  // may throw, which fails the device's start.
  virtual void on_queue_start(QueueContext& /*queue*/) {}
  // On the queue's thread after its last request, before its ring closes.
  virtual void on_queue_stop(QueueContext& /*queue*/) noexcept {}
  // The device has its number (after ADD_DEV, or when a daemon takes a device over), before
  // any request: a target may name what must outlive the daemon after it. Setup: may throw.
  virtual void on_device_added(unsigned /*dev_id*/) {}
  // The device is being stopped (Device::stop, just before STOP_DEV, which waits for the requests
  // in flight): a target holding requests for a backend that may come back later (an NBD
  // connection waiting to reconnect) completes them now, with an error, and new ones at once.
  // Any thread; requests it can still serve normally may complete as usual.
  virtual void on_stopping() noexcept {}
  // The device is gone for good (DEL_DEV succeeded): whatever was kept for a takeover can go.
  virtual void on_device_deleted() noexcept {}
};

}  // namespace ublk
