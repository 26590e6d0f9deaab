#include "cli/size.hpp"

#include <charconv>
#include <limits>

namespace cli {

std::optional<std::uint64_t> parse_size(std::string_view text) noexcept {
  if (text.empty()) return std::nullopt;
  unsigned shift = 0;
  switch (text.back()) {
    case 'k': case 'K': shift = 10; break;
    case 'm': case 'M': shift = 20; break;
    case 'g': case 'G': shift = 30; break;
    case 't': case 'T': shift = 40; break;
    default: break;
  }
  if (shift) text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  if (value > (std::numeric_limits<std::uint64_t>::max() >> shift)) return std::nullopt;
  return value << shift;
}

std::string bad_size(std::string_view flag, std::string_view text, std::string_view rule) {
  std::string message = "bad " + std::string(flag) + " '" + std::string(text) +
                        "': want a size such as 64K, 512M or 1G (suffixes K, M, G, T)";
  if (!rule.empty()) message += ", " + std::string(rule);
  return message;
}

}  // namespace cli
