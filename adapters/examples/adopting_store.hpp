#pragma once
// The example app's block store: a ublk target that keeps every WRITE's data in the very
// message buffer the kernel wrote it into (it takes a reference; nothing is copied), and serves
// READs from those buffers.
#include <cstdint>
#include <mutex>
#include <string>

#include "message_buffer_pool.hpp"
#include "ublk/held_extents.hpp"
#include "ublk/target.hpp"

namespace example {

class AdoptingStore final : public ublk::Target {
 public:
  AdoptingStore(MessageBufferPool& pool, std::uint64_t size_bytes) : pool_(pool), size_(size_bytes) {}

  [[nodiscard]] std::string_view name() const noexcept override { return "adopting_store"; }
  void handle(const ublk::Request& request, ublk::Completion done) noexcept override;

  struct Audit {
    std::uint64_t segments = 0;
    std::uint64_t bytes = 0;               // bytes held, all of them in adopted buffers
    std::uint64_t outside_pool = 0;        // segments whose bytes are not in a pool buffer: must be 0
    std::uint64_t copied_writes = 0;       // WRITEs whose buffer was not the pool's (copied): must be 0
  };
  [[nodiscard]] Audit audit() const;
  // Writes the device's contents, rebuilt from the adopted buffers alone (zeros where nothing
  // was written), to `path`. Returns an error message, or empty.
  [[nodiscard]] std::string dump(const std::string& path) const;

 private:
  int write(std::uint64_t offset, std::span<std::byte> data) noexcept;
  void read(std::uint64_t offset, std::span<std::byte> out) const noexcept;

  MessageBufferPool& pool_;
  std::uint64_t size_;
  mutable std::mutex mutex_;
  ublk::HeldExtents<MessageRef> held_;  // by device offset; guarded by mutex_
  std::uint64_t copied_writes_ = 0;
};

}  // namespace example
