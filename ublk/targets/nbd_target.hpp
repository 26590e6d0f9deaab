#pragma once
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nbd/negotiation.hpp"
#include "nbd/ring_connection.hpp"
#include "ublk/target.hpp"

namespace ublk {

struct NbdTargetConfig {
  nbd::Endpoint endpoint;
  std::string address_text;  // the endpoint as the user wrote it, for messages
  unsigned queues = 1;     // wanted; one connection each when the server allows multi-conn
  unsigned depth = 128;
  std::chrono::milliseconds timeout{30'000};  // reconnecting; 0: fail at once
  // The setup's connect and each step of its handshakes: a server that does not answer (a host
  // that drops the SYN, a peer that never speaks) is an error within this long, not a hang.
  std::chrono::milliseconds setup_step_limit{10'000};
  nbd::LogSink log;        // one line per event (connection lost, reconnected, ...)
  // WRITE batches with at least this many payload bytes go as zero-copy sends
  // (IORING_OP_SENDMSG_ZC); nullopt: never.
  std::optional<std::uint64_t> send_zc_min;
  // Zero-copy send also to a server on this host, where the kernel copies the data anyway (the
  // daemon sets it when --send-zc is given); otherwise such a server gets plain sends.
  bool send_zc_to_this_host = false;
};

// Serves a ublk device from an NBD export. The constructor connects and negotiates (setup:
// throws with a one-line message); the device's shape comes from the export. Each queue's
// connection runs on that queue's thread and io_uring (nbd::RingConnection).
class NbdTarget final : public Target {
 public:
  explicit NbdTarget(NbdTargetConfig config);
  ~NbdTarget() override;

  [[nodiscard]] std::string_view name() const noexcept override { return "nbd"; }
  void handle(const Request& request, Completion done) noexcept override;
  void on_queue_start(QueueContext& queue) override;
  void on_io_complete(QueueContext& queue, unsigned tag, std::uint32_t cookie, int result) noexcept override;
  void on_batch_end(QueueContext& queue) noexcept override;
  void on_io_notification(QueueContext& queue, unsigned tag, std::uint32_t cookie, int result) noexcept override;
  void on_queue_stop(QueueContext& queue) noexcept override;
  // Any thread. A connection waiting for the server fails what it holds with EIO, and new IO, at once.
  void on_stopping() noexcept override;

  // The device's shape and the ops it advertises, from the export: size (whole blocks), block
  // size, read-only, FLUSH/FUA/TRIM/WRITE_ZEROES, the largest request, one queue without
  // multi-conn.
  [[nodiscard]] TargetTraits traits() const noexcept override;
  // The export as negotiated, and why there is one queue where more were asked for.
  [[nodiscard]] std::string describe() const override;
  // With zero-copy send asked: send_zc_write_bytes (WRITE payload sent zero-copy), send_zc_sends,
  // and send_zc_copied (of those, the ones the kernel copied after all; not when the kernel does
  // not say, before Linux 6.2).
  [[nodiscard]] std::vector<TargetCounter> counters() const override;

  [[nodiscard]] const nbd::Export& export_info() const noexcept { return export_; }
  [[nodiscard]] unsigned queues() const noexcept { return static_cast<unsigned>(connections_.size()); }

 private:
  [[nodiscard]] std::uint32_t logical_block() const noexcept;

  nbd::Export export_;
  std::string export_name_;
  std::string address_;
  std::string why_one_queue_;
  bool send_zc_ = false;
  std::vector<std::unique_ptr<nbd::RingConnection>> connections_;  // by queue
};

}  // namespace ublk
