#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "ublk/features.hpp"

namespace ublk {

// How WRITE data travels from the kernel into a provider buffer (and READ data back).
enum class Mode : std::uint8_t {
  kCopy,      // each tag owns a max-IO-size buffer, given at FETCH; the kernel copies into it
  kGetData,   // UBLK_F_NEED_GET_DATA: a buffer of the request's size, given after it is seen
  kUserCopy,  // UBLK_F_USER_COPY: the daemon pread()s/pwrite()s /dev/ublkcN itself
  kAuto,      // pick from the kernel's features
  // UBLK_F_AUTO_BUF_REG: no buffer and no copy; the kernel registers the request's own pages in
  // the queue's ring and the target's file IO uses them (TargetTraits::zero_copy targets only)
  kZeroCopy,
};

// Whether the target can serve IO from the request's pages registered in its queue's ring
// (TargetTraits::zero_copy): zero_copy is possible only then.
enum class ZeroCopyTarget : bool { kNo, kYes };

std::string_view to_string(Mode mode) noexcept;
std::optional<Mode> parse_mode(std::string_view text) noexcept;

// The UBLK_F_* flag a concrete mode asks ADD_DEV for (0 for copy).
std::uint64_t required_feature(Mode mode) noexcept;

struct ModeChoice {
  Mode mode;
  std::string reason;  // one line for stderr: why this mode
};
struct ModeRefusal {
  std::string message;  // one line naming the missing feature
};

// The mode to run given what was asked, what the kernel offers and what the target can take.
// kAuto prefers zero_copy where both allow it (nothing copied), then get_data (one kernel copy
// into a buffer sized for the request), then user_copy, then copy.
std::variant<ModeChoice, ModeRefusal> choose_mode(Mode requested, Features kernel,
                                                  ZeroCopyTarget target = ZeroCopyTarget::kNo);

// After ADD_DEV: did the kernel keep the flag the mode needs? It silently drops NEED_GET_DATA
// when user copy, zero copy, AUTO_BUF_REG or batch IO is asked for too.
std::optional<ModeRefusal> check_granted(Mode mode, Features granted);

}  // namespace ublk
