#pragma once
#include <cstddef>
#include <memory>
#include <span>
#include <utility>

#include "pool/buffer.hpp"
#include "pool/buffer_provider.hpp"

namespace pool {

// Where an OwnedBuffer goes when it is dropped: a provider's cache, a ublk queue that has requests
// waiting for a buffer, ... Called from any thread.
class BufferHome {
 public:
  virtual void take_back(const Buffer& buffer) noexcept = 0;

 protected:
  ~BufferHome() = default;
};

// A move-only owner of one provider buffer. Dropping it (from any thread) gives the buffer to its
// home, or, without one, straight back to the provider that made it.
class OwnedBuffer {
 public:
  OwnedBuffer() = default;
  OwnedBuffer(Buffer buffer, std::shared_ptr<BufferHome> home) noexcept
      : buffer_(buffer), home_(std::move(home)) {}
  explicit OwnedBuffer(Buffer buffer) noexcept : buffer_(buffer) {}
  OwnedBuffer(OwnedBuffer&& other) noexcept
      : buffer_(std::exchange(other.buffer_, Buffer{})), home_(std::move(other.home_)) {}
  OwnedBuffer& operator=(OwnedBuffer&& other) noexcept {
    if (this != &other) {
      reset();
      buffer_ = std::exchange(other.buffer_, Buffer{});
      home_ = std::move(other.home_);
    }
    return *this;
  }
  OwnedBuffer(const OwnedBuffer&) = delete;
  OwnedBuffer& operator=(const OwnedBuffer&) = delete;
  ~OwnedBuffer() { reset(); }

  [[nodiscard]] std::byte* data() const noexcept { return buffer_.data; }
  [[nodiscard]] std::size_t size() const noexcept { return buffer_.length; }
  [[nodiscard]] std::span<std::byte> span() const noexcept { return {buffer_.data, buffer_.length}; }
  [[nodiscard]] const Buffer& get() const noexcept { return buffer_; }
  explicit operator bool() const noexcept { return buffer_.data != nullptr; }

  // Gives the buffer back now.
  void reset() noexcept {
    if (!buffer_) return;
    const Buffer buffer = std::exchange(buffer_, Buffer{});
    if (home_) {
      home_->take_back(buffer);
    } else if (buffer.owner) {
      (void)buffer.owner->release(buffer);
    }
    home_.reset();
  }

 private:
  Buffer buffer_{};
  std::shared_ptr<BufferHome> home_;
};

}  // namespace pool
