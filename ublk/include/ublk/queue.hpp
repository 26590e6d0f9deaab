#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pool/buffer_provider.hpp"
#include "ublk/buffer_strategy.hpp"
#include "ublk/mapping.hpp"
#include "ublk/mode.hpp"
#include "ublk/parked_tags.hpp"
#include "ublk/ring.hpp"
#include "ublk/stats.hpp"
#include "ublk/target.hpp"
#include "ublk/unique_fd.hpp"

namespace ublk {

struct QueueConfig {
  unsigned q_id = 0;
  unsigned depth = 128;
  std::uint32_t max_io = 1U << 20;
  int char_fd = -1;      // /dev/ublkcN, owned by the device
  bool encoded = true;   // ioctl-encoded IO opcodes
  Mode mode = Mode::kGetData;
  bool app_copy = false;  // also memcpy every WRITE into an application buffer (baseline)
  bool poison = false;    // scribble over buffers as they go back (see QueueResources)
  ExhaustionPolicy on_exhaustion = ExhaustionPolicy::kWait;
};

// One ublk queue: its own thread, io_uring, tags, provider cache and descriptor mapping.
// Nothing of it is touched by another thread except through complete().
class Queue {
 public:
  Queue(const QueueConfig& config, pool::BufferProvider& provider, Target& target);
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

  // The queue's counters; read them after join().
  [[nodiscard]] const IoStats& stats() const noexcept { return stats_; }
  // Why the thread failed, empty if it did not.
  [[nodiscard]] const std::string& failure() const noexcept { return failure_; }

  // A target's result for `tag`, from any thread (see Completion).
  void complete(unsigned tag, int result, std::uint64_t copied) noexcept;

 private:
  struct Done {
    unsigned tag;
    int result;
    std::uint64_t copied;
  };

  static void complete_thunk(void* queue, unsigned tag, int result, std::uint64_t copied) noexcept {
    static_cast<Queue*>(queue)->complete(tag, result, copied);
  }
  void run(std::promise<void>* ready);
  void loop();
  void send_fetches();

  // One function per transition of a tag (see TagState).
  void apply(TagSlot& slot, TagEvent event);
  void on_io_cqe(TagSlot& slot, int res);
  void on_data_cqe(TagSlot& slot, int res);
  void start_request(TagSlot& slot);
  void hand_to_target(TagSlot& slot);
  void commit(TagSlot& slot, int result);
  void retire(TagSlot& slot, int res);
  void count_request(const TagSlot& slot);

  void park(TagSlot& slot, ParkedTags::Step step);
  void retry_parked();
  void arm_park_timer();
  void send_need_data(TagSlot& slot, std::uint64_t addr);

  void arm_eventfd();
  void on_eventfd_cqe(int res);
  void drain_done();
  void release_submitted() noexcept;
  void release_everything() noexcept;
  std::uint32_t opcode(uapi::IoCmd cmd) const noexcept;
  void send_io_cmd(TagSlot& slot, uapi::IoCmd cmd, std::uint64_t addr, int result);

  QueueConfig config_;
  pool::BufferProvider& provider_;
  Target& target_;
  Mapping descs_;   // the kernel's IO descriptors of this queue, read-only
  Mapping sink_;    // see QueueResources::sink
  std::vector<std::byte> app_buffer_;  // --app-copy's application buffer
  std::vector<TagSlot> slots_;
  std::vector<pool::Buffer> release_after_submit_;
  std::unique_ptr<pool::BufferCache> cache_;
  QueueResources resources_;
  std::unique_ptr<BufferStrategy> strategy_;
  std::unique_ptr<Ring> ring_;
  UniqueFd eventfd_;
  std::uint64_t eventfd_value_ = 0;
  bool eventfd_armed_ = false;
  unsigned live_tags_ = 0;
  ParkedTags parked_;
  __kernel_timespec park_timeout_{};
  bool park_timer_armed_ = false;
  std::atomic<bool> exit_requested_{false};
  std::atomic<bool> finished_{false};
  std::thread::id thread_id_;
  std::vector<Done> local_done_;     // completions made on the queue's thread
  std::mutex remote_mutex_;
  std::vector<Done> remote_done_;    // completions from other threads, guarded by remote_mutex_
  IoStats stats_;
  std::string failure_;
  std::thread thread_;
};

}  // namespace ublk
