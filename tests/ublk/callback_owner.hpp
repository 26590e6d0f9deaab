#pragma once
// A RequestOwner for target tests without a queue: completions go to a function, and a buffer
// offered beforehand is what take_buffer() hands over.
#include <cstdint>
#include <cstdlib>
#include <utility>

#include "ublk/target.hpp"

namespace ublk::test {

class CallbackOwner final : public RequestOwner {
 public:
  using Fn = void (*)(void* context, unsigned tag, int result, std::uint64_t copied) noexcept;
  CallbackOwner(Fn fn, void* context) noexcept : fn_(fn), context_(context) {}

  void complete(unsigned tag, std::uint32_t, int result, std::uint64_t copied) noexcept override {
    fn_(context_, tag, result, copied);
  }
  pool::OwnedBuffer take_buffer(unsigned, std::uint32_t) noexcept override {
    ++take_calls;
    return std::move(offer);
  }
  QueueContext& context() noexcept override { std::abort(); }  // these targets never use the ring

  pool::OwnedBuffer offer;
  int take_calls = 0;

 private:
  Fn fn_;
  void* context_;
};

}  // namespace ublk::test
