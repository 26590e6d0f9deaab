#include "app_copy_target.hpp"

#include <cstring>

namespace ublk::cli {

AppCopyTarget::AppCopyTarget(Target& inner, unsigned queues, std::uint32_t max_io)
    : inner_(inner), buffers_(queues, std::vector<std::byte>(max_io)) {}

void AppCopyTarget::handle(const Request& request, Completion done) noexcept {
  if (request.op == IoOp::kWrite && !request.data.empty() && request.queue < buffers_.size() &&
      request.data.size() <= buffers_[request.queue].size()) {
    std::memcpy(buffers_[request.queue].data(), request.data.data(), request.data.size());
    done.count_copy(request.data.size());
  }
  inner_.handle(request, done);
}

}  // namespace ublk::cli
