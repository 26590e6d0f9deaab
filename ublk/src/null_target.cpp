#include "ublk/null_target.hpp"

namespace ublk {

void NullTarget::handle(const Request& request, Completion done) noexcept {
  const bool moves_data = request.op == uapi::IoOp::kRead || request.op == uapi::IoOp::kWrite;
  done(moves_data ? static_cast<int>(request.length) : 0);
}

}  // namespace ublk
