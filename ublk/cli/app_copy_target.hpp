#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "ublk/target.hpp"

namespace ublk::cli {

// --app-copy, a baseline for the cost model: before the real target sees a WRITE, its data is
// memcpy'd once more into an application buffer of the request's queue, as an application that
// cannot work in the provider's buffer would. The copy is counted (IoStats::userspace_copy_bytes).
class AppCopyTarget final : public Target {
 public:
  AppCopyTarget(Target& inner, unsigned queues, std::uint32_t max_io);

  [[nodiscard]] std::string_view name() const noexcept override { return inner_.name(); }
  [[nodiscard]] bool wants_data() const noexcept override { return true; }
  void handle(const Request& request, Completion done) noexcept override;
  // Everything else is the real target's.
  [[nodiscard]] TargetTraits traits() const noexcept override { return inner_.traits(); }
  [[nodiscard]] std::string describe() const override { return inner_.describe(); }
  [[nodiscard]] std::vector<TargetCounter> counters() const override { return inner_.counters(); }
  void on_io_complete(QueueContext& queue, unsigned tag, std::uint32_t cookie, int result) noexcept override {
    inner_.on_io_complete(queue, tag, cookie, result);
  }
  void on_io_notification(QueueContext& queue, unsigned tag, std::uint32_t cookie, int result) noexcept override {
    inner_.on_io_notification(queue, tag, cookie, result);
  }
  void on_batch_end(QueueContext& queue) noexcept override { inner_.on_batch_end(queue); }
  void on_queue_start(QueueContext& queue) override { inner_.on_queue_start(queue); }
  void on_queue_stop(QueueContext& queue) noexcept override { inner_.on_queue_stop(queue); }
  void on_device_added(unsigned dev_id) override { inner_.on_device_added(dev_id); }
  void on_stopping() noexcept override { inner_.on_stopping(); }
  void on_device_deleted() noexcept override { inner_.on_device_deleted(); }

 private:
  Target& inner_;
  std::vector<std::vector<std::byte>> buffers_;  // by queue: each is used by its queue's thread only
};

}  // namespace ublk::cli
