#include "nbd_target.hpp"

#include <algorithm>
#include <cerrno>
#include <stdexcept>

namespace ublk {

NbdTarget::NbdTarget(NbdTargetConfig config) {
  UniqueFd first = nbd::connect_to(config.endpoint.address);
  export_ = nbd::negotiate(first.get(), config.endpoint.export_name);
  if (export_.size == 0) throw std::runtime_error("the NBD export is empty (size 0)");
  if (export_.block.minimum > 4096) {
    throw std::runtime_error("the NBD server's minimum block size " + std::to_string(export_.block.minimum) +
                             " is larger than 4096, which ublk cannot offer");
  }
  unsigned queues = config.queues;
  if (queues > 1 && !export_.has(nbd::tflag::kCanMultiConn)) {
    why_one_queue_ = "the server does not allow multiple connections (no NBD_FLAG_CAN_MULTI_CONN)";
    queues = 1;
  }
  std::vector<std::pair<UniqueFd, nbd::Export>> sockets;
  sockets.emplace_back(std::move(first), export_);
  for (unsigned q = 1; q < queues; ++q) {
    UniqueFd socket = nbd::connect_to(config.endpoint.address);
    nbd::Export other = nbd::negotiate(socket.get(), config.endpoint.export_name);
    if (other.size != export_.size || other.flags != export_.flags) {
      throw std::runtime_error("the NBD server described the export differently on connection " + std::to_string(q));
    }
    sockets.emplace_back(std::move(socket), other);
  }
  for (unsigned q = 0; q < queues; ++q) {
    workers_.push_back(std::make_unique<nbd::ConnectionWorker>(q, config.endpoint, std::move(sockets[q].first),
                                                               sockets[q].second, config.depth, config.timeout,
                                                               config.log));
  }
}

NbdTarget::~NbdTarget() = default;

void NbdTarget::handle(const Request& request, Completion done) noexcept {
  if (request.queue >= workers_.size()) return done(-EIO);
  workers_[request.queue]->post(request, done);
}

std::uint32_t NbdTarget::max_io(std::uint32_t wanted) const noexcept {
  const std::uint32_t server = export_.block.maximum ? export_.block.maximum : wanted;
  return std::max<std::uint32_t>(4096, std::min(wanted, server) / 4096 * 4096);
}

std::uint32_t NbdTarget::logical_block() const noexcept { return export_.block.minimum > 512 ? 4096 : 512; }

}  // namespace ublk
