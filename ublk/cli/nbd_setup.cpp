#include "nbd_setup.hpp"

#include <cstdio>
#include <stdexcept>
#include <variant>

#include "nbd_target.hpp"

namespace ublk::cli {

std::unique_ptr<Target> make_nbd_target(DaemonOptions& options, const std::string& prog) {
  const auto address = nbd::parse_address(options.connect);
  if (const auto* error = std::get_if<nbd::AddressError>(&address)) {
    throw std::invalid_argument("bad --connect '" + options.connect + "': " + error->message);
  }
  NbdTargetConfig config;
  config.endpoint = {std::get<nbd::Address>(address), options.export_name};
  config.queues = options.queues;
  config.depth = options.depth;
  config.timeout = std::chrono::seconds(options.timeout_s);
  config.log = [prog](std::string_view line) {
    std::fprintf(stderr, "%s: %.*s\n", prog.c_str(), static_cast<int>(line.size()), line.data());
  };
  auto target = std::make_unique<NbdTarget>(std::move(config));
  const nbd::Export& ex = target->export_info();
  std::fprintf(stderr, "%s: export '%s' on %s: %llu bytes, flags %s, block sizes %u/%u/%u, %s replies%s\n",
               prog.c_str(), options.export_name.c_str(), options.connect.c_str(),
               static_cast<unsigned long long>(ex.size), nbd::describe_transmission_flags(ex.flags).c_str(),
               ex.block.minimum, ex.block.preferred, ex.block.maximum, ex.structured_replies ? "structured" : "simple",
               ex.used_go ? "" : " (old server: NBD_OPT_EXPORT_NAME)");
  if (!target->why_one_queue().empty()) {
    std::fprintf(stderr, "%s: one queue, not %u: %s\n", prog.c_str(), options.queues, target->why_one_queue().c_str());
  }
  options.queues = target->queues();
  options.logical_block = target->logical_block();
  options.size = ex.size / options.logical_block * options.logical_block;
  if (options.size != ex.size) {
    std::fprintf(stderr, "%s: the export's last %llu byte(s) are not a whole block: not served\n", prog.c_str(),
                 static_cast<unsigned long long>(ex.size - options.size));
  }
  if (options.size == 0) throw std::runtime_error("the NBD export is smaller than one block");
  options.max_io = target->max_io(options.max_io);
  return target;
}

}  // namespace ublk::cli
