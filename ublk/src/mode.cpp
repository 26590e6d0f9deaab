#include "ublk/mode.hpp"

#include "uapi.hpp"

namespace ublk {

std::string_view to_string(Mode mode) noexcept {
  switch (mode) {
    case Mode::kCopy: return "copy";
    case Mode::kGetData: return "get_data";
    case Mode::kUserCopy: return "user_copy";
    case Mode::kAuto: return "auto";
    case Mode::kZeroCopy: return "zero_copy";
  }
  return "?";
}

std::optional<Mode> parse_mode(std::string_view text) noexcept {
  for (Mode mode : {Mode::kCopy, Mode::kGetData, Mode::kUserCopy, Mode::kZeroCopy, Mode::kAuto}) {
    if (text == to_string(mode)) return mode;
  }
  return std::nullopt;
}

std::uint64_t required_feature(Mode mode) noexcept {
  switch (mode) {
    case Mode::kGetData: return uapi::kFeatureNeedGetData;
    case Mode::kUserCopy: return uapi::kFeatureUserCopy;
    case Mode::kZeroCopy: return uapi::kFeatureAutoBufReg;
    case Mode::kCopy:
    case Mode::kAuto: return 0;
  }
  return 0;
}

namespace {
std::string flag_name(std::uint64_t flag) {
  for (unsigned bit = 0; bit < 64; ++bit) {
    if (flag == (std::uint64_t{1} << bit)) return "UBLK_F_" + std::string(feature_name(bit).value_or("?"));
  }
  return "?";
}
}  // namespace

std::variant<ModeChoice, ModeRefusal> choose_mode(Mode requested, Features kernel, ZeroCopyTarget target) {
  const bool target_zero_copy = target == ZeroCopyTarget::kYes;
  if (requested == Mode::kZeroCopy && !target_zero_copy) {
    return ModeRefusal{"mode zero_copy needs a target that does its IO on the queue's ring with the request's "
                       "registered pages (the loop target); this one takes its data from buffers"};
  }
  if (requested != Mode::kAuto) {
    const std::uint64_t need = required_feature(requested);
    if (need && !kernel.has(need)) {
      return ModeRefusal{"mode " + std::string(to_string(requested)) + " needs " + flag_name(need) +
                         ", which this kernel lacks (features " + kernel.to_string() + ")"};
    }
    return ModeChoice{requested, "requested with --mode"};
  }
  if (target_zero_copy && kernel.has(uapi::kFeatureAutoBufReg)) {
    return ModeChoice{Mode::kZeroCopy,
                      "the kernel has UBLK_F_AUTO_BUF_REG and the target does its IO on the queue's ring: it "
                      "reads and writes the request's own pages, nothing is copied"};
  }
  if (kernel.has(uapi::kFeatureNeedGetData)) {
    return ModeChoice{Mode::kGetData,
                      "the kernel has UBLK_F_NEED_GET_DATA: WRITE buffers are sized after the request is seen"};
  }
  if (kernel.has(uapi::kFeatureUserCopy)) {
    return ModeChoice{Mode::kUserCopy, "the kernel lacks UBLK_F_NEED_GET_DATA but has UBLK_F_USER_COPY"};
  }
  return ModeChoice{Mode::kCopy, "the kernel has neither UBLK_F_NEED_GET_DATA nor UBLK_F_USER_COPY"};
}

std::optional<ModeRefusal> check_granted(Mode mode, Features granted) {
  const std::uint64_t need = required_feature(mode);
  if (need && !granted.has(need)) {
    return ModeRefusal{"ADD_DEV did not grant " + flag_name(need) + " for mode " + std::string(to_string(mode)) +
                       " (granted " + granted.to_string() + ")"};
  }
  return std::nullopt;
}

}  // namespace ublk
