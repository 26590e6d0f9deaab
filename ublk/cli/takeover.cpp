#include "takeover.hpp"

namespace ublk::cli {

namespace {
template <class T>
std::optional<std::string> differs(const std::string& option, const T& given, const T& device, unsigned id,
                                   const std::string& given_text, const std::string& device_text) {
  if (given == device) return std::nullopt;
  return option + " " + given_text + " conflicts with device " + std::to_string(id) + ", created with " + device_text;
}
std::string number(std::uint64_t n) { return std::to_string(n); }
}  // namespace

std::optional<std::string> takeover_conflict(const DaemonOptions& o, const RecoverableDevice& d, DaemonKind kind) {
  const bool caps = kind == DaemonKind::kNbd;
  for (const auto& option : o.device_options) {
    std::optional<std::string> conflict;
    if (caps && option == "--queues" && o.queues >= d.queues) {
      continue;
    } else if (caps && option == "--max-io" && o.max_io >= d.max_io_bytes) {
      continue;
    } else if (option == "--queues") {
      conflict = differs(option, o.queues, d.queues, d.id, number(o.queues), number(d.queues));
    } else if (option == "--depth") {
      conflict = differs(option, o.depth, d.depth, d.id, number(o.depth), number(d.depth));
    } else if (option == "--size") {
      conflict = differs(option, o.size, d.size_bytes, d.id, number(o.size), number(d.size_bytes));
    } else if (option == "--max-io") {
      conflict = differs(option, o.max_io, d.max_io_bytes, d.id, number(o.max_io), number(d.max_io_bytes));
    } else if (option == "--logical-block") {
      conflict = differs(option, o.logical_block, d.logical_block, d.id, number(o.logical_block), number(d.logical_block));
    } else if (option == "--mode") {
      if (o.mode != Mode::kAuto) {
        conflict = differs(option, o.mode, d.mode, d.id, std::string(to_string(o.mode)), std::string(to_string(d.mode)));
      }
    } else if (option == "--id") {
      conflict = differs(option, static_cast<unsigned>(o.id), d.id, d.id, number(static_cast<unsigned>(o.id)),
                         "that number");
    } else {  // the recovery policy options
      conflict = differs(option, o.recovery, d.policy, d.id, "", "policy " + std::string(to_string(d.policy)));
    }
    if (conflict) return conflict;
  }
  return std::nullopt;
}

void adopt_device_shape(const RecoverableDevice& dev, DaemonOptions& options) {
  options.id = static_cast<int>(dev.id);
  options.queues = dev.queues;
  options.depth = dev.depth;
  options.max_io = dev.max_io_bytes;
  options.size = dev.size_bytes;
  options.logical_block = dev.logical_block;
  options.mode = dev.mode;
  options.recovery = dev.policy;
}

std::optional<std::string> backend_shape_conflict(const TargetTraits& b, const DaemonOptions& o) {
  const std::string device = "device " + std::to_string(o.id) + " has ";
  if (b.size_bytes && b.size_bytes != o.size) {
    return device + number(o.size) + " bytes, the backend now " + number(b.size_bytes) + ": not taking it over";
  }
  if (b.logical_block && b.logical_block != o.logical_block) {
    return device + "a logical block of " + number(o.logical_block) + " bytes, the backend now " +
           number(b.logical_block) + ": not taking it over";
  }
  if (b.max_queues && b.max_queues < o.queues) {
    return device + number(o.queues) + " queues, the backend now allows " + number(b.max_queues) +
           ": not taking it over";
  }
  if (b.max_io_bytes && b.max_io_bytes < o.max_io) {
    return device + "requests of up to " + number(o.max_io) + " bytes, the backend now takes " +
           number(b.max_io_bytes) + ": not taking it over";
  }
  return std::nullopt;
}

}  // namespace ublk::cli
