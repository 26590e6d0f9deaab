#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ublk/stats.hpp"
#include "ublk/target.hpp"
#include "ublk/unique_fd.hpp"

namespace ublk {

struct LoopConfig {
  std::string path;                    // a regular file or a block device
  std::optional<std::uint64_t> size;   // regular file: create or extend it to this size; else the file's
  std::uint32_t logical_block = 0;     // 0: the backing's (BLKSSZGET, or its O_DIRECT alignment)
  bool buffered = false;               // the page cache instead of O_DIRECT
  unsigned queues = 1;
  unsigned depth = 128;
};

// A loop device in user space: every request becomes IO on the backing file, queued on the
// request's own queue ring (fixed file; READ_FIXED/WRITE_FIXED when the buffer is registered pool
// memory, or in zero_copy mode the request's own pages the kernel registered) and completed from
// its CQE. FLUSH is an fdatasync on the ring, a FUA WRITE is followed
// by one (linked), DISCARD punches a hole and WRITE_ZEROES zeroes the range, each advertised only
// where a probe found the backing supports it.
class LoopTarget final : public Target {
 public:
  explicit LoopTarget(LoopConfig config);  // throws std::system_error / std::runtime_error
  [[nodiscard]] std::string_view name() const noexcept override { return "loop"; }
  void handle(const Request& request, Completion done) noexcept override;
  void on_io_complete(QueueContext& queue, unsigned tag, std::uint32_t cookie, int result) noexcept override;
  void on_queue_start(QueueContext& queue) override;
  [[nodiscard]] TargetTraits traits() const noexcept override;
  [[nodiscard]] std::vector<TargetCounter> counters() const override;

  [[nodiscard]] std::uint64_t size() const noexcept { return size_; }
  [[nodiscard]] std::uint32_t logical_block() const noexcept { return logical_block_; }
  [[nodiscard]] bool direct() const noexcept { return direct_; }
  // One line: the backing, O_DIRECT or buffered and why, what DISCARD / WRITE_ZEROES map to.
  [[nodiscard]] std::string describe() const override { return description_; }

 private:
  // The request of one tag while its IO is on the ring.
  struct TagIo {
    std::span<std::byte> data;  // empty for registered pages (zero_copy) and non-transfers
    std::uint32_t length = 0;   // bytes to move; 0 for what is not a READ or WRITE
    std::uint64_t offset = 0;
    std::uint32_t done = 0;  // bytes moved so far (a short transfer is issued again for the rest)
    int fixed_buffer = -1;
    int error = 0;
    std::uint8_t pending = 0;  // SQEs whose CQE has not come back
    bool write = false;
    bool fua = false;
    bool registered_pages = false;  // Request::registered_pages: fixed_buffer is the request itself
  };
  struct QueueState {
    int file = -1;  // fixed-file index, or the descriptor itself when registration failed
    bool fixed_file = false;
    std::vector<TagIo> tags;
    Counter fdatasyncs;  // written by the queue's thread only
    Counter fixed_buffer_ios;  // READ_FIXED/WRITE_FIXED issued from the pool's or shared memory
  };

  void open_backing(const LoopConfig& config);
  void probe_fallocate(const std::string& path, bool block_device);
  [[nodiscard]] RingIo file_io(const QueueState& q, RingIo io) const noexcept;
  void issue_transfer(QueueContext& queue, QueueState& q, unsigned tag) noexcept;
  void issue_single(QueueContext& queue, QueueState& q, unsigned tag, std::uint32_t cookie, const RingIo& io) noexcept;
  void finish(QueueContext& queue, QueueState& q, unsigned tag, int result) noexcept;

  UniqueFd fd_;
  std::uint64_t size_ = 0;
  std::uint32_t logical_block_ = 512;
  bool direct_ = false;
  int discard_mode_ = -1;       // fallocate mode for DISCARD; -1: not offered
  int write_zeroes_mode_ = -1;  // fallocate mode for WRITE_ZEROES; -1: not offered
  std::string description_;
  std::vector<QueueState> queues_;
};

}  // namespace ublk
