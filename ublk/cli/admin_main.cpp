// ublk-pool: the admin CLI. features | list | del.
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/args.hpp"
#include "cli/exit_code.hpp"
#include "cli/program.hpp"
#include "admin_commands.hpp"
#include "shmem_server.hpp"
#include "stats_server.hpp"
#include "ublk/control.hpp"
#include "mem_target.hpp"

namespace {

constexpr const char* kProgram = "ublk-pool";

constexpr const char* kUsage =
    "usage: ublk-pool COMMAND [options]\n"
    "The ublk devices' admin tool (needs root and a ublk kernel, 6.0 or later).\n"
    "  features [--json]     the kernel's ublk features (GET_FEATURES), decoded by name\n"
    "  list [--json]         the ublk devices that exist, with their state and owner pid\n"
    "  del -n N | -a         delete device N, or every ublk device (STOP_DEV then DEL_DEV)\n"
    "  stats -n N [--json | --prometheus] [--watch SECONDS [--count K]]\n"
    "                        device N's live statistics, from its daemon's stats socket\n"
    "  tune -n N | --from FILE [--bench-results DIR]\n"
    "                        settings advised from what device N's daemon counted (or a saved --json\n"
    "                        report), each with its reason, and the command line to restart with\n"
    "  COMMAND --help        that command's help\n"
    "  --help                this text\n"
    "  --version             the version\n"
    "Exit 0 on success, 1 when the kernel refused or has no ublk, 2 for a bad command line.\n";

constexpr const char* kFeaturesUsage =
    "usage: ublk-pool features [--json]\n"
    "Prints the ublk features the kernel reports (UBLK_U_CMD_GET_FEATURES), one UBLK_F_ name a\n"
    "line, and whether it takes ioctl-encoded control opcodes.\n"
    "  --json   one JSON object: flags, names, reported, ioctl_encoded_opcodes\n"
    "  --help   this text\n";

constexpr const char* kListUsage =
    "usage: ublk-pool list [--json]\n"
    "Lists the ublk devices (/sys/class/ublk-char): state, queues x depth, max IO, owner pid, flags.\n"
    "  --json   a JSON array, one object a device\n"
    "  --help   this text\n";

constexpr const char* kDelUsage =
    "usage: ublk-pool del -n N | -a\n"
    "Stops and deletes ublk device N (/dev/ublkbN), or every ublk device; a recoverable mem device's\n"
    "kept data (/dev/shm/ublk-pool-mem-N) is removed too.\n"
    "  -n N     the device number\n"
    "  -a       every device\n"
    "  --help   this text\n";

std::string_view state_name(ublk::DeviceState state) {
  switch (state) {
    case ublk::DeviceState::kDead: return "dead";
    case ublk::DeviceState::kLive: return "live";
    case ublk::DeviceState::kQuiesced: return "quiesced";
    case ublk::DeviceState::kFailIo: return "fail_io";
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
    const std::string socket = ublk::cli::stats_socket_path(ublk::cli::stats_dir(), id);
    const bool served = std::filesystem::exists(socket);
    const auto shmem = ublk::cli::read_shmem_state(ublk::cli::shmem_state_path(ublk::cli::stats_dir(), id));
    if (json) {
      nlohmann::json device = {{"id", id},
                               {"state", std::string(state_name(info->state))},
                               {"queues", info->queues},
                               {"depth", info->depth},
                               {"max_io_bytes", info->max_io_bytes},
                               {"pid", info->daemon_pid},
                               {"flags", info->flags.bits()},
                               {"stats_socket", served ? nlohmann::json(socket) : nlohmann::json(nullptr)},
                               {"shmem_socket", shmem ? nlohmann::json(shmem->socket) : nlohmann::json(nullptr)}};
      // Flat keys: one object per device keeps `ublk-pool list --json` easy to match line-wise.
      if (shmem) {
        device["shmem_clients"] = shmem->counts.clients;
        device["shmem_arenas"] = shmem->counts.arenas;
        device["shmem_arena_bytes"] = shmem->counts.arena_bytes;
        device["shmem_arenas_given"] = shmem->counts.arenas_given;
        device["shmem_arenas_reclaimed"] = shmem->counts.arenas_reclaimed;
      }
      devices.push_back(std::move(device));
    } else {
      std::string shared = "-";
      if (shmem) {
        shared = shmem->socket + " (" + std::to_string(shmem->counts.clients) + " client(s), " +
                 std::to_string(shmem->counts.arenas) + " arena(s) of " + std::to_string(shmem->counts.arena_bytes) +
                 " B; " + std::to_string(shmem->counts.arenas_reclaimed) + " reclaimed)";
      }
      std::printf("ublkb%u: %s, %u queue(s) x %u, max IO %u, pid %d, flags %s, stats %s, shmem %s\n", id,
                  std::string(state_name(info->state)).c_str(), info->queues, info->depth,
                  info->max_io_bytes, info->daemon_pid, info->flags.to_string().c_str(),
                  served ? socket.c_str() : "-", shared.c_str());
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

struct Command {
  std::string_view name;
  bool json = false;
  bool all = false;
  std::optional<unsigned> id;
  bool help = false;
};

const char* usage_of(std::string_view command) {
  if (command == "features") return kFeaturesUsage;
  if (command == "list") return kListUsage;
  return kDelUsage;
}

// Throws cli::UsageError.
Command parse_command(std::string_view name, std::vector<std::string> rest) {
  Command c;
  c.name = name;
  cli::Args args(std::move(rest));
  while (args.next()) {
    if (args.is("--help", "-h")) {
      c.help = args.flag();
    } else if (args.is("--json") && name != "del") {
      c.json = args.flag();
    } else if (args.is("-a") && name == "del") {
      c.all = args.flag();
    } else if (args.is("-n") && name == "del") {
      const std::string text = args.value();
      unsigned n = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
        throw cli::UsageError(cli::bad_value("-n", text, "want a device number (N of /dev/ublkbN)"));
      }
      c.id = n;
    } else {
      throw cli::UsageError("unknown option '" + std::string(args.name()) + "' for " + std::string(name) +
                            " (see ublk-pool " + std::string(name) + " --help)");
    }
  }
  if (!c.help && name == "del" && c.all == c.id.has_value()) throw cli::UsageError("del needs exactly one of -n N or -a");
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::fputs(kUsage, stderr);
    return cli::kExitUsage;
  }
  const std::string command = args[0];
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(kUsage, stdout);
    return cli::kExitOk;
  }
  if (command == "--version") {
    std::printf("%s\n", cli::version_line(kProgram).c_str());
    return cli::kExitOk;
  }
  if (command == "stats" || command == "tune") {
    const std::vector<std::string_view> views(args.begin() + 1, args.end());
    return command == "stats" ? ublk::cli::stats_command(views) : ublk::cli::tune_command(views);
  }
  if (command != "features" && command != "list" && command != "del") {
    const char* what = command.starts_with("-") ? "unknown option '" : "unknown command '";
    return cli::fail(kProgram, what + command + "' (see --help)", cli::kExitUsage);
  }
  Command parsed;
  try {
    parsed = parse_command(command, std::vector<std::string>(args.begin() + 1, args.end()));
  } catch (const cli::UsageError& e) {
    return cli::fail(kProgram, e.what(), cli::kExitUsage);
  }
  if (parsed.help) {
    std::fputs(usage_of(command), stdout);
    return cli::kExitOk;
  }
  try {
    ublk::Control control;
    if (command == "features") return features(control, parsed.json);
    if (command == "list") return list(control, parsed.json);
    return del(control, parsed.all ? std::nullopt : parsed.id);
  } catch (const std::exception& e) {
    return cli::fail(kProgram, e.what(), cli::kExitRuntime);
  }
}
