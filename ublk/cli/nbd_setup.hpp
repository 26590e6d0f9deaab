#pragma once
#include <memory>
#include <string>

#include "options.hpp"
#include "ublk/target.hpp"

namespace ublk::cli {

// ublk-pool-nbd: connects to the server and negotiates, says what it found, and fits the
// device's shape (size, block size, max IO, queues) in `options` to the export. Throws with a
// one-line message (unreachable server, unknown export, TLS-only server, ...).
std::unique_ptr<Target> make_nbd_target(const DaemonOptions& options, const std::string& prog);

}  // namespace ublk::cli
