#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

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
  unsigned queue = 0;
  unsigned tag = 0;
};

// Hands a request's result back to its queue. Call exactly once, from any thread: on the
// queue's own thread it is queued locally; from another thread it goes through the queue's
// eventfd, so the ring is only ever touched by its own thread.
class Completion {
 public:
  using Fn = void (*)(void* context, unsigned tag, int result, std::uint64_t copied) noexcept;
  Completion(Fn fn, void* context, unsigned tag) noexcept : fn_(fn), context_(context), tag_(tag) {}
  // result: bytes done (>= 0) or -errno. copied: bytes of request data the target memcpy'd
  // in user space (its store or its copy), for the stats.
  void operator()(int result, std::uint64_t copied = 0) const noexcept { fn_(context_, tag_, result, copied); }

 private:
  Fn fn_;
  void* context_;
  unsigned tag_;
};

// What serves the requests. Small on purpose, like the kernel selftest server's ops table.
class Target {
 public:
  virtual ~Target() = default;
  [[nodiscard]] virtual std::string_view name() const noexcept = 0;
  // false: WRITE data need not reach user space and READs need not be filled (pure frontend
  // overhead runs); the queue then skips buffers where the mode allows.
  [[nodiscard]] virtual bool wants_data() const noexcept { return true; }
  // Called on the queue's thread. The request's data span stays valid until `done` is called.
  virtual void handle(const Request& request, Completion done) noexcept = 0;
  // The device has its number (after ADD_DEV, or when a daemon takes a device over), before
  // any request: a target may name what must outlive the daemon after it. Setup: may throw.
  virtual void on_device_added(unsigned /*dev_id*/) {}
  // The device is gone for good (DEL_DEV succeeded): whatever was kept for a takeover can go.
  virtual void on_device_deleted() noexcept {}
};

}  // namespace ublk
