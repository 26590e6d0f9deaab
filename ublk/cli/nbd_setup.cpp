#include "nbd_setup.hpp"

#include <cstdio>
#include <stdexcept>
#include <variant>

#include "nbd_target.hpp"

namespace ublk::cli {

std::unique_ptr<Target> make_nbd_target(const DaemonOptions& options, const std::string& prog) {
  const auto address = nbd::parse_address(options.connect);
  if (const auto* error = std::get_if<nbd::AddressError>(&address)) {
    throw std::invalid_argument("bad --connect '" + options.connect + "': " + error->message);
  }
  NbdTargetConfig config;
  config.endpoint = {std::get<nbd::Address>(address), options.export_name};
  config.address_text = options.connect;
  config.queues = options.queues;
  config.depth = options.depth;
  config.timeout = std::chrono::seconds(options.timeout_s);
  config.send_zc_min = options.send_zc;
  config.send_zc_to_this_host = options.send_zc_given;
  // Only TCP sends zero-copy; a unix socket would refuse the first try, so none is made.
  if (config.endpoint.address.kind == nbd::Address::Kind::kUnix) config.send_zc_min.reset();
  config.log = [prog](std::string_view line) {
    std::fprintf(stderr, "%s: %.*s\n", prog.c_str(), static_cast<int>(line.size()), line.data());
  };
  return std::make_unique<NbdTarget>(std::move(config));
}

}  // namespace ublk::cli
