#pragma once
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace ublk {

// The shared memory registered with REG_BUF, by the index the kernel answered: the queues
// resolve UBLK_IO_F_SHMEM_ZC descriptors through it while the device owner adds and removes
// entries at runtime (a client's arena). Lookups take no lock. Each entry counts the requests
// being served from it, so that its owner unmaps it only once they have ended.
class SharedMemoryTable {
 public:
  static constexpr unsigned kDefaultCapacity = 1024;
  explicit SharedMemoryTable(unsigned capacity = kDefaultCapacity);

  [[nodiscard]] unsigned capacity() const noexcept { return capacity_; }

  // Owner: makes `memory` the entry at `index`. false when the index is beyond the capacity or
  // its entry is live.
  bool publish(unsigned index, std::span<std::byte> memory) noexcept;
  // Owner: no lookup finds the entry any more; requests already holding it keep it.
  void withdraw(unsigned index) noexcept;
  // Owner: waits until no request holds the withdrawn entry. false on timeout.
  bool wait_idle(unsigned index, std::chrono::milliseconds timeout) const noexcept;
  [[nodiscard]] unsigned holders(unsigned index) const noexcept;
  [[nodiscard]] bool live(unsigned index) const noexcept;

  // Queue: `length` bytes at `offset` of entry `index`, held until release(index); an empty span
  // (nothing held) for an index or range that is not registered.
  std::span<std::byte> acquire(unsigned index, std::uint64_t offset, std::uint64_t length) noexcept;
  void release(unsigned index) noexcept;

 private:
  struct Entry {
    std::atomic<std::byte*> data{nullptr};
    std::atomic<std::size_t> bytes{0};
    std::atomic<bool> live{false};
    std::atomic<unsigned> holders{0};
  };
  unsigned capacity_;
  std::unique_ptr<Entry[]> entries_;
};

}  // namespace ublk
