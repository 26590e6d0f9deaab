#include "nbd_target.hpp"

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <string>

namespace ublk {

namespace {
std::pair<UniqueFd, nbd::Export> connect_and_negotiate(const nbd::Endpoint& endpoint,
                                                       std::chrono::milliseconds step_limit) {
  UniqueFd socket = nbd::connect_to(endpoint.address, step_limit);
  nbd::Export shape = nbd::negotiate(socket.get(), endpoint.export_name);
  nbd::clear_step_limit(socket.get());
  return {std::move(socket), shape};
}
}  // namespace

NbdTarget::NbdTarget(NbdTargetConfig config) {
  auto [first, shape] = connect_and_negotiate(config.endpoint, config.setup_step_limit);
  export_ = shape;
  export_name_ = config.endpoint.export_name;
  address_ = config.address_text;
  if (config.send_zc_min && !config.send_zc_to_this_host && nbd::peer_is_this_host(first.get())) {
    config.send_zc_min.reset();
    if (config.log) {
      config.log("zero-copy send off: the server is on this host, where the kernel copies the data anyway "
                 "(--send-zc SIZE asks for it all the same)");
    }
  }
  send_zc_ = config.send_zc_min.has_value();
  if (export_.size < logical_block()) throw std::runtime_error("the NBD export is smaller than one block");
  if (export_.block.minimum > 4096) {
    throw std::runtime_error("the NBD server's minimum block size " + std::to_string(export_.block.minimum) +
                             " is larger than 4096, which ublk cannot offer");
  }
  unsigned queues = config.queues;
  if (queues > 1 && !export_.has(nbd::tflag::kCanMultiConn)) {
    why_one_queue_ = "not " + std::to_string(queues) +
                     ": the server does not allow multiple connections (no NBD_FLAG_CAN_MULTI_CONN)";
    queues = 1;
  }
  std::vector<std::pair<UniqueFd, nbd::Export>> sockets;
  sockets.emplace_back(std::move(first), export_);
  for (unsigned q = 1; q < queues; ++q) {
    auto [socket, other] = connect_and_negotiate(config.endpoint, config.setup_step_limit);
    if (other.size != export_.size || other.flags != export_.flags) {
      throw std::runtime_error("the NBD server described the export differently on connection " + std::to_string(q));
    }
    sockets.emplace_back(std::move(socket), other);
  }
  for (unsigned q = 0; q < queues; ++q) {
    connections_.push_back(std::make_unique<nbd::RingConnection>(q, config.endpoint, std::move(sockets[q].first),
                                                                 sockets[q].second, config.depth, config.timeout,
                                                                 config.log, config.send_zc_min));
  }
}

NbdTarget::~NbdTarget() = default;

void NbdTarget::handle(const Request& request, Completion done) noexcept {
  if (request.queue >= connections_.size()) return done(-EIO);
  connections_[request.queue]->submit(request, done);
}

void NbdTarget::on_batch_end(QueueContext& queue) noexcept {
  if (queue.id() < connections_.size()) connections_[queue.id()]->flush();
}

void NbdTarget::on_queue_start(QueueContext& queue) {
  if (queue.id() >= connections_.size()) {
    throw std::runtime_error("queue " + std::to_string(queue.id()) + " has no NBD connection");
  }
  connections_[queue.id()]->start(queue);
}

void NbdTarget::on_io_complete(QueueContext& queue, unsigned tag, std::uint32_t cookie, int result) noexcept {
  // The target queues no IO for a request: every SQE of its own is a connection's.
  if (tag != QueueContext::kOwnIo || queue.id() >= connections_.size()) return;
  connections_[queue.id()]->on_own_io(cookie, result);
}

void NbdTarget::on_io_notification(QueueContext& queue, unsigned tag, std::uint32_t cookie, int result) noexcept {
  if (tag != QueueContext::kOwnIo || queue.id() >= connections_.size()) return;
  connections_[queue.id()]->on_own_notification(cookie, result);
}

std::vector<TargetCounter> NbdTarget::counters() const {
  if (!send_zc_) return {};
  std::uint64_t bytes = 0, sends = 0, copied = 0;
  bool usage = true;
  for (const auto& connection : connections_) {
    const nbd::ZeroCopySendCounters& c = connection->zero_copy_counters();
    bytes += c.write_bytes.load(std::memory_order_relaxed);
    sends += c.sends.load(std::memory_order_relaxed);
    copied += c.copied.load(std::memory_order_relaxed);
    usage = usage && c.usage_reported.load(std::memory_order_relaxed);
  }
  std::vector<TargetCounter> out = {{"send_zc_write_bytes", bytes}, {"send_zc_sends", sends}};
  if (usage) out.push_back({"send_zc_copied", copied});
  return out;
}

void NbdTarget::on_queue_stop(QueueContext& queue) noexcept {
  if (queue.id() < connections_.size()) connections_[queue.id()]->stop();
}

void NbdTarget::on_stopping() noexcept {
  for (auto& connection : connections_) connection->stop_waiting();
}

TargetTraits NbdTarget::traits() const noexcept {
  // Big enough for any request; the kernel splits what is larger.
  constexpr std::uint32_t kMaxTrimBytes = 1U << 30;
  TargetTraits t;
  t.time_backend = true;
  t.logical_block = logical_block();
  t.size_bytes = export_.size / t.logical_block * t.logical_block;
  t.max_queues = queues();
  if (export_.block.maximum) t.max_io_bytes = std::max<std::uint32_t>(4096, export_.block.maximum / 4096 * 4096);
  t.read_only = export_.has(nbd::tflag::kReadOnly);
  t.volatile_cache = export_.has(nbd::tflag::kSendFlush);
  t.fua = export_.has(nbd::tflag::kSendFua);
  if (export_.has(nbd::tflag::kSendTrim)) t.max_discard_bytes = kMaxTrimBytes;
  if (export_.has(nbd::tflag::kSendWriteZeroes)) t.max_write_zeroes_bytes = kMaxTrimBytes;
  t.discard_granularity = t.logical_block;
  return t;
}

std::string NbdTarget::describe() const {
  const nbd::Export& ex = export_;
  std::string line = "export '" + export_name_ + "' on " + address_ + ": " + std::to_string(ex.size) + " bytes, flags " +
                     nbd::describe_transmission_flags(ex.flags) + ", block sizes " + std::to_string(ex.block.minimum) +
                     "/" + std::to_string(ex.block.preferred) + "/" + std::to_string(ex.block.maximum) + ", " +
                     (ex.structured_replies ? "structured" : "simple") + " replies" +
                     (ex.used_go ? "" : " (old server: NBD_OPT_EXPORT_NAME)");
  if (const std::uint64_t tail = ex.size % logical_block()) {
    line += "; its last " + std::to_string(tail) + " byte(s) are not a whole block: not served";
  }
  if (!why_one_queue_.empty()) line += "; one queue, " + why_one_queue_;
  return line;
}

std::uint32_t NbdTarget::logical_block() const noexcept { return export_.block.minimum > 512 ? 4096 : 512; }

}  // namespace ublk
