#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "pool/buffer_provider.hpp"
#include "ublk/mode.hpp"
#include "ublk/stats.hpp"
#include "tag_state.hpp"
#include "uapi.hpp"

namespace ublk {

// One tag's bookkeeping, owned by its queue.
struct TagSlot {
  unsigned tag = 0;
  TagState state = TagState::kIdle;
  ublksrv_io_desc desc{};  // the current request, copied out of the shared descriptor array
  pool::Buffer buffer{};   // the provider buffer of the current request (copy mode: the tag's own)
  int pending_error = 0;   // an error to commit as soon as the kernel lets us (after NEED_GET_DATA)
  std::uint32_t generation = 0;  // counts the tag's requests: a Completion names the one it is for
  bool with_target = false;      // the target has the current request and has not completed it
  std::span<std::byte> shared;  // the request's pages in registered shared memory (SHMEM_ZC)
  unsigned shared_index = 0;    // the REG_BUF index `shared` is held from (SharedMemoryTable)
  std::uint64_t handed_at_ns = 0;  // when the target got it (QueueConfig::time_backend only)

  [[nodiscard]] uapi::IoOp op() const noexcept { return static_cast<uapi::IoOp>(desc.op_flags & 0xff); }
  [[nodiscard]] std::uint32_t length() const noexcept { return desc.nr_sectors << 9; }
  [[nodiscard]] bool moves_data() const noexcept { return op() == uapi::IoOp::kRead || op() == uapi::IoOp::kWrite; }
};

// Where a queue's buffers go back when it is done with them (its cache, or a queue that waits).
class BufferReturn {
 public:
  virtual void give_back(const pool::Buffer& buffer) noexcept = 0;

 protected:
  ~BufferReturn() = default;
};

// What a strategy may use of its queue.
struct QueueResources {
  unsigned q_id = 0;
  int char_fd = -1;
  std::uint32_t max_io = 0;
  bool wants_data = true;
  pool::BufferCache* cache = nullptr;
  // max_io bytes the daemon never reads: an address to hand the kernel where it insists on
  // one but no provider buffer exists (see docs/ublk.md, "the sink").
  std::byte* sink = nullptr;
  IoStats* stats = nullptr;
  // Releases go here; without it, to `cache`.
  BufferReturn* returns = nullptr;
  // Buffers whose address rides on an SQE not yet submitted: released once it is.
  std::vector<pool::Buffer>* release_after_submit = nullptr;
};

// How one buffer mode gets request data between the kernel and provider buffers. One object
// per queue, used by its thread only.
class BufferStrategy {
 public:
  virtual ~BufferStrategy() = default;
  [[nodiscard]] virtual Mode mode() const noexcept = 0;

  // The address FETCH_REQ carries. Copy mode acquires the tag's own buffer here (throws when
  // the provider cannot give it: this is setup).
  virtual std::uint64_t fetch_address(TagSlot& slot) = 0;

  // get_data only: a WRITE waits for its buffer. Returns the address NEED_GET_DATA carries; on
  // provider failure returns 0 (nothing counted) when the request `may_wait` for a buffer, else
  // sets slot.pending_error and returns the sink.
  virtual std::uint64_t need_data_address(TagSlot& slot, bool may_wait) noexcept;

  // The request is ours (a WRITE's data is in the kernel's hands or already ours). Make the
  // span the target sees. Returns 0, or -errno to commit at once.
  virtual int on_request(TagSlot& slot, std::span<std::byte>& data) noexcept = 0;

  // The target finished with `result`. Move READ data out if the mode must, give back what may
  // be given back now, and return the address COMMIT_AND_FETCH_REQ carries. May set result to
  // -errno.
  virtual std::uint64_t on_done(TagSlot& slot, int& result) noexcept = 0;

  // A request served in place from shared memory (slot.shared, SHMEM_ZC) is done: the address
  // COMMIT_AND_FETCH_REQ carries. The kernel copies nothing to or from it; no buffer was acquired
  // and none is given back. 0 where the mode names no buffer (user_copy).
  [[nodiscard]] virtual std::uint64_t in_place_done_address(const TagSlot& /*slot*/) const noexcept { return 0; }
  // What FETCH_REQ and COMMIT_AND_FETCH_REQ carry in the SQE's own addr field (not the command's):
  // zero_copy's buffer-table slot for the tag's next request; 0 in the other modes.
  [[nodiscard]] virtual std::uint64_t sqe_addr(const TagSlot& /*slot*/) const noexcept { return 0; }

  // Shutdown, after the ring is gone: give back everything the tag still holds.
  virtual void on_retire(TagSlot& slot) noexcept;

 protected:
  explicit BufferStrategy(QueueResources& res) : res_(res) {}
  // Acquire exactly `length` bytes into slot.buffer; counts the stats. false on failure.
  bool acquire(TagSlot& slot, std::size_t length) noexcept;
  void release(TagSlot& slot) noexcept;
  [[nodiscard]] std::uint64_t sink_address() const noexcept {
    return reinterpret_cast<std::uintptr_t>(res_.sink);
  }

  QueueResources& res_;
};

std::unique_ptr<BufferStrategy> make_strategy(Mode mode, QueueResources& resources);

}  // namespace ublk
