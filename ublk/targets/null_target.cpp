#include "null_target.hpp"

namespace ublk {

NullTarget::NullTarget(bool no_data, bool async) : no_data_(no_data), async_(async) {
  if (async_) worker_ = std::thread([this] { work(); });
}

NullTarget::~NullTarget() {
  if (!async_) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  worker_.join();
}

void NullTarget::handle(const Request& request, Completion done) noexcept {
  const bool moves_data = request.op == uapi::IoOp::kRead || request.op == uapi::IoOp::kWrite;
  const int result = moves_data ? static_cast<int>(request.length) : 0;
  if (!async_) return done(result);
  {
    std::lock_guard lock(mutex_);
    pending_.push_back({done, result});
  }
  wake_.notify_one();
}

void NullTarget::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
    if (pending_.empty()) return;  // stopping, and nothing left to complete
    Pending next = pending_.front();
    pending_.pop_front();
    lock.unlock();
    next.done(next.result);
    lock.lock();
  }
}

}  // namespace ublk
