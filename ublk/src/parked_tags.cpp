#include "parked_tags.hpp"

#include "ublk/device.hpp"

namespace ublk {

std::optional<ExhaustionPolicy> parse_exhaustion_policy(std::string_view text) noexcept {
  if (text == "wait") return ExhaustionPolicy::kWait;
  if (text == "fail") return ExhaustionPolicy::kFail;
  return std::nullopt;
}

std::string_view to_string(ExhaustionPolicy policy) noexcept {
  return policy == ExhaustionPolicy::kWait ? "wait" : "fail";
}

}  // namespace ublk
