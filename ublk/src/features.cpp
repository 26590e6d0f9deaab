#include "ublk/features.hpp"

#include <array>
#include <cctype>
#include <cstdio>

namespace ublk {

namespace {
constexpr std::array<std::string_view, 21> kNames = {
    "SUPPORT_ZERO_COPY",  "URING_CMD_COMP_IN_TASK", "NEED_GET_DATA",     "USER_RECOVERY",
    "USER_RECOVERY_REISSUE", "UNPRIVILEGED_DEV",   "CMD_IOCTL_ENCODE",  "USER_COPY",
    "ZONED",              "USER_RECOVERY_FAIL_IO", "UPDATE_SIZE",       "AUTO_BUF_REG",
    "QUIESCE",            "PER_IO_DAEMON",         "BUF_REG_OFF_DAEMON", "BATCH_IO",
    "INTEGRITY",          "SAFE_STOP_DEV",         "NO_AUTO_PART_SCAN", "SHMEM_ZC",
    "IO_DESC_SIZE",
};

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) != std::toupper(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}
}  // namespace

std::optional<std::string_view> feature_name(unsigned bit) noexcept {
  if (bit < kNames.size()) return kNames[bit];
  return std::nullopt;
}

std::optional<unsigned> feature_bit(std::string_view name) noexcept {
  constexpr std::string_view kPrefix = "UBLK_F_";
  if (name.size() > kPrefix.size() && iequal(name.substr(0, kPrefix.size()), kPrefix))
    name.remove_prefix(kPrefix.size());
  for (unsigned bit = 0; bit < kNames.size(); ++bit) {
    if (iequal(kNames[bit], name)) return bit;
  }
  return std::nullopt;
}

std::vector<std::string> Features::names() const {
  std::vector<std::string> out;
  for (unsigned bit = 0; bit < 64; ++bit) {
    if (!(bits_ & (std::uint64_t{1} << bit))) continue;
    if (auto name = feature_name(bit)) {
      out.emplace_back(*name);
    } else {
      out.push_back("BIT_" + std::to_string(bit));
    }
  }
  return out;
}

std::string Features::to_string() const {
  char hex[32];
  std::snprintf(hex, sizeof hex, "0x%llx", static_cast<unsigned long long>(bits_));
  std::string out = hex;
  out += " (";
  bool first = true;
  for (const auto& name : names()) {
    if (!first) out += '|';
    out += name;
    first = false;
  }
  out += ')';
  return out;
}

}  // namespace ublk
