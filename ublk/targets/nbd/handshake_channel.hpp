#pragma once
#include <coroutine>
#include <cstddef>
#include <span>

namespace ublk::nbd {

// The socket the handshake talks over: read and written directly (negotiate), or through the
// queue's io_uring (a reconnect, which must not block the queue's thread).
class HandshakeChannel {
 public:
  // One send or receive of up to `bytes.size()` bytes. co_await gives the count, 0 when the
  // server hung up (a receive), or -errno.
  class Step {
   public:
    Step(HandshakeChannel& channel, std::span<std::byte> bytes, bool sending) noexcept
        : channel_(channel), bytes_(bytes), sending_(sending) {}
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> waiting) noexcept { return channel_.start(*this, waiting); }
    int await_resume() const noexcept { return result_; }

    [[nodiscard]] std::span<std::byte> bytes() const noexcept { return bytes_; }
    [[nodiscard]] bool sending() const noexcept { return sending_; }
    void finish(int result) noexcept { result_ = result; }

   private:
    HandshakeChannel& channel_;
    std::span<std::byte> bytes_;
    bool sending_;
    int result_ = 0;
  };

  Step receive(std::span<std::byte> into) noexcept { return {*this, into, false}; }
  Step send(std::span<const std::byte> from) noexcept {
    // Only a receive writes to its bytes.
    return {*this, {const_cast<std::byte*>(from.data()), from.size()}, true};
  }

 protected:
  ~HandshakeChannel() = default;

 private:
  // Either does the step at once (step.finish(result), returns false) or returns true and, once
  // it is done, calls step.finish(result) and resumes `waiting`.
  virtual bool start(Step& step, std::coroutine_handle<> waiting) noexcept = 0;
};

}  // namespace ublk::nbd
