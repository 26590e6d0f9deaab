// ublk-pool: the admin CLI. features | list | del.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ublk/control.hpp"
#include "mem_target.hpp"

namespace {

constexpr const char* kUsage =
    "usage: ublk-pool COMMAND [options]\n"
    "  features [--json]     the kernel's ublk features (GET_FEATURES), decoded by name\n"
    "  list [--json]         the ublk devices that exist, with their state and owner pid\n"
    "  del -n N | -a         delete device N, or every ublk device (STOP_DEV then DEL_DEV)\n"
    "  --help                this text\n";

std::string_view state_name(unsigned state) {
  switch (state) {
    case ublk::uapi::kStateDead: return "dead";
    case ublk::uapi::kStateLive: return "live";
    case ublk::uapi::kStateQuiesced: return "quiesced";
    case ublk::uapi::kStateFailIo: return "fail_io";
  }
  return "unknown";
}

// Device numbers from /sys/class/ublk-char/ublkcN.
std::vector<unsigned> device_ids() {
  std::vector<unsigned> ids;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/sys/class/ublk-char", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("ublkc", 0) != 0) continue;
    try {
      ids.push_back(static_cast<unsigned>(std::stoul(name.substr(5))));
    } catch (const std::exception&) {
    }
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

int features(ublk::Control& control, bool json) {
  const auto& kf = control.features();
  if (json) {
    nlohmann::json j;
    j["flags"] = kf.features.bits();
    j["names"] = kf.features.names();
    j["reported"] = kf.reported;
    j["ioctl_encoded_opcodes"] = kf.encoded;
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("features: %s%s\n", kf.features.to_string().c_str(),
                kf.reported ? "" : " (assumed: this kernel has no GET_FEATURES)");
    for (const auto& name : kf.features.names()) std::printf("  UBLK_F_%s\n", name.c_str());
    std::printf("opcodes: %s\n", kf.encoded ? "ioctl-encoded" : "legacy");
  }
  return 0;
}

int list(ublk::Control& control, bool json) {
  nlohmann::json devices = nlohmann::json::array();
  for (unsigned id : device_ids()) {
    auto info = control.device_info(id);
    if (!info) continue;
    if (json) {
      devices.push_back({{"id", id},
                         {"state", std::string(state_name(info->state))},
                         {"queues", info->nr_hw_queues},
                         {"depth", info->queue_depth},
                         {"max_io_bytes", info->max_io_buf_bytes},
                         {"pid", info->ublksrv_pid},
                         {"flags", info->flags}});
    } else {
      std::printf("ublkb%u: %s, %u queue(s) x %u, max IO %u, pid %d, flags %s\n", id,
                  std::string(state_name(info->state)).c_str(), info->nr_hw_queues, info->queue_depth,
                  info->max_io_buf_bytes, info->ublksrv_pid, ublk::Features(info->flags).to_string().c_str());
    }
  }
  if (json) std::printf("%s\n", devices.dump().c_str());
  return 0;
}

int del(ublk::Control& control, std::optional<unsigned> id) {
  const std::vector<unsigned> ids = id ? std::vector<unsigned>{*id} : device_ids();
  int status = 0;
  for (unsigned dev : ids) {
    control.stop_device(dev);  // harmless on a device that is not live
    if (auto error = control.delete_device(dev)) {
      std::fprintf(stderr, "ublk-pool: del %u: %s\n", dev, error.message().c_str());
      status = 1;
    } else {
      std::fprintf(stderr, "ublk-pool: deleted ublkb%u\n", dev);
      // A recoverable mem device's data outlived its daemon for a takeover that will not come.
      const std::string store = ublk::mem_store_path(ublk::kDefaultMemStoreDir, dev);
      if (::unlink(store.c_str()) == 0) std::fprintf(stderr, "ublk-pool: removed its data, %s\n", store.c_str());
    }
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  const std::string_view command = args[0];
  bool json = false;
  bool all = false;
  std::optional<unsigned> id;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--json" && command != "del") {
      json = true;
    } else if (args[i] == "-a" && command == "del") {
      all = true;
    } else if (args[i] == "-n" && command == "del" && i + 1 < args.size()) {
      try {
        std::size_t used = 0;
        const std::string text(args[++i]);
        const unsigned long n = std::stoul(text, &used);
        if (used != text.size()) throw std::invalid_argument("trailing");
        id = static_cast<unsigned>(n);
      } catch (const std::exception&) {
        std::fprintf(stderr, "ublk-pool: bad device number '%s'\n", std::string(args[i]).c_str());
        return 2;
      }
    } else {
      std::fprintf(stderr, "ublk-pool: unknown option '%s' for %s (see --help)\n", std::string(args[i]).c_str(),
                   std::string(command).c_str());
      return 2;
    }
  }
  if (command != "features" && command != "list" && command != "del") {
    std::fprintf(stderr, "ublk-pool: unknown command '%s' (see --help)\n", std::string(command).c_str());
    return 2;
  }
  if (command == "del" && (all == id.has_value())) {
    std::fprintf(stderr, "ublk-pool: del needs exactly one of -n N or -a\n");
    return 2;
  }
  try {
    ublk::Control control;
    if (command == "features") return features(control, json);
    if (command == "list") return list(control, json);
    return del(control, all ? std::nullopt : id);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ublk-pool: %s\n", e.what());
    return 1;
  }
}
