#pragma once
#include <sys/uio.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "pool/buffer_provider.hpp"
#include "pool/owned_buffer.hpp"
#include "buffer_strategy.hpp"
#include "fixed_buffer_table.hpp"
#include "ublk/mapping.hpp"
#include "ublk/mode.hpp"
#include "parked_tags.hpp"
#include "ublk/stats.hpp"
#include "ublk/target.hpp"
#include "ublk/unique_fd.hpp"
#include "queue_ring.hpp"
#include "shared_memory_table.hpp"

namespace pool {
class SizeClassPool;
}

namespace ublk {

class Queue;

struct QueueConfig {
  unsigned q_id = 0;
  unsigned depth = 128;
  std::uint32_t max_io = 1U << 20;
  int char_fd = -1;      // /dev/ublkcN, owned by the device
  bool encoded = true;   // ioctl-encoded IO opcodes
  Mode mode = Mode::kGetData;
  ExhaustionPolicy on_exhaustion = ExhaustionPolicy::kWait;
  // The pool whose regions are registered as the ring's fixed buffers (nullptr: none).
  pool::SizeClassPool* fixed_pool = nullptr;
  std::span<const iovec> fixed_buffers;
  bool time_backend = false;  // TargetTraits::time_backend
  // The registered shared memory by REG_BUF index (nullptr: none): a request the kernel flags
  // UBLK_IO_F_SHMEM_ZC is served in place from it, holding its entry until committed.
  SharedMemoryTable* shared_memory = nullptr;
  // The shared memory registered before the queues start (DeviceConfig::shared_memory), by REG_BUF
  // index, empty spans between: for a target that does fixed-buffer IO it joins the ring's fixed
  // buffers. Arenas added later are not in the table; their file IO is plain READ/WRITE.
  std::vector<std::span<std::byte>> fixed_shared_memory;
};

// The queues of one device: a buffer freed on one queue wakes requests waiting on another.
// Filled before the queues start; read by their threads.
class QueueGroup {
 public:
  void add(Queue* queue) { queues_.push_back(queue); }
  void clear() noexcept { queues_.clear(); }  // the queues are gone
  // Wakes every queue but `except` that has requests waiting for a buffer.
  void wake_waiting(const Queue* except) noexcept;
  std::atomic<unsigned> waiting{0};  // queues with requests waiting for a buffer

 private:
  std::vector<Queue*> queues_;
};

// Where a buffer a target took (Completion::take_buffer) goes back, from any thread: to its
// queue while it runs (which hands it to a waiting request), else to the provider. Outlives the
// queue as long as a handle of its buffers does.
class HandOffHome final : public pool::BufferHome {
 public:
  HandOffHome(Queue* queue, pool::BufferProvider& provider) noexcept : queue_(queue), provider_(provider) {}
  void take_back(const pool::Buffer& buffer) noexcept override;
  void detach() noexcept;  // the queue is going away
  [[nodiscard]] std::uint64_t handed_back() const noexcept { return handed_back_.load(std::memory_order_relaxed); }

 private:
  std::mutex mutex_;
  Queue* queue_;  // guarded by mutex_
  pool::BufferProvider& provider_;
  std::atomic<std::uint64_t> handed_back_{0};
};

// One ublk queue: its own thread, io_uring, tags, provider cache and descriptor mapping.
// Nothing of it is touched by another thread except through complete(), a hand-off home and
// stats().
class Queue final : public RequestOwner, private QueueContext, private BufferReturn {
 public:
  // ring: nullptr for the real io_uring (a test passes a fake).
  Queue(const QueueConfig& config, pool::BufferProvider& provider, Target& target, QueueGroup* group = nullptr,
        std::unique_ptr<QueueRing> ring = nullptr);
  ~Queue();
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  // Starts the thread and returns once a FETCH_REQ is outstanding for every tag (what
  // START_DEV waits for). Throws what went wrong on the thread.
  void start();
  // Leave the loop without waiting for the kernel's aborts (startup failed, the device was
  // never started). Closing the ring cancels the outstanding commands.
  void request_exit() noexcept;
  // Waits for the thread: it ends once every tag was aborted (after STOP_DEV or DEL_DEV).
  void join() noexcept;
  // true once the thread has left its loop (every tag aborted, or exit requested).
  bool wait_finished(std::chrono::milliseconds timeout) noexcept;

  // The queue's counters; safe while the queue runs.
  [[nodiscard]] IoStats stats() const noexcept;
  [[nodiscard]] std::shared_ptr<HandOffHome> home() const noexcept { return home_; }
  // Why the thread failed, empty if it did not. Read after wait_finished() or join().
  [[nodiscard]] const std::string& failure() const noexcept { return failure_; }
  [[nodiscard]] unsigned id() const noexcept override { return config_.q_id; }

  // RequestOwner: a target's result for `tag`, from any thread (see Completion).
  void complete(unsigned tag, std::uint32_t generation, int result, std::uint64_t copied) noexcept override;
  pool::OwnedBuffer take_buffer(unsigned tag, std::uint32_t generation) noexcept override;
  QueueContext& context() noexcept override { return *this; }

  // A handed-off buffer back (HandOffHome), from any thread.
  void take_back(const pool::Buffer& buffer) noexcept;
  // Another queue freed a buffer while requests wait here (QueueGroup).
  void wake() noexcept;
  [[nodiscard]] bool has_waiters() const noexcept { return has_waiters_.load(); }

 private:
  struct Done {
    unsigned tag;
    std::uint32_t generation;
    int result;
    std::uint64_t copied;
  };

  // QueueContext
  std::error_code submit(unsigned tag, std::uint32_t cookie, const RingIo& io) noexcept override;
  std::error_code submit_own(std::uint32_t cookie, const RingIo& io) noexcept override;
  int register_files(std::span<const int> fds) noexcept override;
  Completion completion(unsigned tag) noexcept override;
  // BufferReturn: the queue's own releases, on its thread.
  void give_back(const pool::Buffer& buffer) noexcept override;

  [[nodiscard]] bool on_queue_thread() const noexcept { return std::this_thread::get_id() == thread_id_.load(std::memory_order_relaxed); }
  void run(std::promise<void>* ready);
  void setup();
  void loop();
  void dispatch(const Cqe& cqe);
  void on_zero_copy_cqe(const Cqe& cqe);
  void send_fetches();
  void register_fixed_buffers();
  // The fixed-buffer index of a request's data (Request::fixed_buffer), or -1.
  int fixed_buffer_of(const TagSlot& slot, std::span<std::byte> data) const noexcept;

  // One function per transition of a tag (see TagState).
  void apply(TagSlot& slot, TagEvent event);
  void on_io_cqe(TagSlot& slot, int res);
  void on_data_cqe(TagSlot& slot, int res);
  // may_wait: on provider exhaustion the request waits for a buffer (ExhaustionPolicy::kWait,
  // within its deadline) instead of failing with -ENOMEM.
  void start_request(TagSlot& slot, bool may_wait);
  [[nodiscard]] bool waits_on_exhaustion() const noexcept { return config_.on_exhaustion == ExhaustionPolicy::kWait; }
  void commit(TagSlot& slot, int result);
  void retire(TagSlot& slot, int res);
  void count_request(const TagSlot& slot);
  // The request's data in shared memory (UBLK_IO_F_SHMEM_ZC), or an empty span; counts it. A
  // span found is held in the table until drop_shared().
  std::span<std::byte> shared_data(TagSlot& slot) noexcept;
  void drop_shared(TagSlot& slot) noexcept;
  static std::uint64_t monotonic_ns() noexcept;
  void count_backend_time(const TagSlot& slot) noexcept;

  // Provider exhaustion: requests wait until a buffer comes back (or the deadline).
  void park(TagSlot& slot, ParkedTags::Step step);
  void retry_parked();
  void arm_deadline();
  void set_waiting(bool waiting) noexcept;
  void send_need_data(TagSlot& slot, std::uint64_t addr);

  void arm_eventfd();
  void on_eventfd_cqe(int res);
  void drain_done();
  void release_submitted() noexcept;
  void release_everything() noexcept;
  void release_to_provider(const pool::Buffer& buffer) noexcept;
  std::uint32_t opcode(uapi::IoCmd cmd) const noexcept;
  void send_io_cmd(TagSlot& slot, uapi::IoCmd cmd, std::uint64_t addr, int result);

  QueueConfig config_;
  pool::BufferProvider& provider_;
  Target& target_;
  QueueGroup* group_;
  Mapping descs_;   // the kernel's IO descriptors of this queue, read-only
  Mapping sink_;    // see QueueResources::sink
  std::vector<TagSlot> slots_;
  std::vector<pool::Buffer> release_after_submit_;
  std::unique_ptr<pool::BufferCache> cache_;
  QueueResources resources_;
  std::unique_ptr<BufferStrategy> strategy_;
  std::unique_ptr<QueueRing> ring_;
  std::vector<Cqe> cqes_;
  bool fixed_registered_ = false;  // the pool's regions are in the ring's fixed-buffer table
  std::optional<FixedBufferTable> shared_fixed_;  // the shared regions are, and where
  UniqueFd eventfd_;
  std::uint64_t eventfd_value_ = 0;
  unsigned live_tags_ = 0;
  unsigned zero_copy_in_flight_ = 0;  // RingIo::sendmsg_zc whose notification has not come
  ParkedTags parked_;
  bool deadline_armed_ = false;
  bool deadline_fired_ = false;
  bool buffer_returned_ = false;           // a buffer came back since the parked requests last tried
  std::atomic<bool> has_waiters_{false};   // parked_ is not empty
  std::atomic<bool> wake_posted_{false};   // a wake-up is in the eventfd, not yet read
  std::shared_ptr<HandOffHome> home_;
  std::atomic<bool> exit_requested_{false};
  std::atomic<bool> finished_{false};
  std::atomic<std::thread::id> thread_id_{};
  std::vector<Done> local_done_;     // completions made on the queue's thread
  std::mutex remote_mutex_;
  std::vector<Done> remote_done_;    // completions from other threads, guarded by remote_mutex_
  IoStats stats_;
  std::string failure_;
  std::thread thread_;
};

}  // namespace ublk
