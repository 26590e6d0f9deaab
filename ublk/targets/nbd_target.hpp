#pragma once
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "nbd/negotiation.hpp"
#include "nbd/worker.hpp"
#include "ublk/target.hpp"

namespace ublk {

struct NbdTargetConfig {
  nbd::Endpoint endpoint;
  unsigned queues = 1;     // wanted; one connection each when the server allows multi-conn
  unsigned depth = 128;
  std::chrono::milliseconds timeout{30'000};  // reconnecting; 0: fail at once
  nbd::LogSink log;        // one line per event (connection lost, reconnected, ...)
};

// Serves a ublk device from an NBD export. The constructor connects and negotiates (setup:
// throws with a one-line message); the device's shape comes from the export.
class NbdTarget final : public Target {
 public:
  explicit NbdTarget(NbdTargetConfig config);
  ~NbdTarget() override;

  [[nodiscard]] std::string_view name() const noexcept override { return "nbd"; }
  void handle(const Request& request, Completion done) noexcept override;

  [[nodiscard]] const nbd::Export& export_info() const noexcept { return export_; }
  // The queues to create: the configured number, or 1 (and why_one_queue() says why).
  [[nodiscard]] unsigned queues() const noexcept { return static_cast<unsigned>(workers_.size()); }
  [[nodiscard]] const std::string& why_one_queue() const noexcept { return why_one_queue_; }
  // The largest request the server accepts, within `wanted`, a multiple of 4K.
  [[nodiscard]] std::uint32_t max_io(std::uint32_t wanted) const noexcept;
  // 512 or 4096, from the server's minimum block size.
  [[nodiscard]] std::uint32_t logical_block() const noexcept;

 private:
  nbd::Export export_;
  std::string why_one_queue_;
  std::vector<std::unique_ptr<nbd::ConnectionWorker>> workers_;
};

}  // namespace ublk
