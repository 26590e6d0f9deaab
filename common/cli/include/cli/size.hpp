#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cli {

// "4096", "64K", "1M", "2G", "1T": binary multiples, either case. nullopt for anything else,
// overflow included.
std::optional<std::uint64_t> parse_size(std::string_view text) noexcept;

// The one wording of a size a flag refuses: "bad --size '12Q': want a size such as 64K, 512M or
// 1G (suffixes K, M, G, T)"; `rule` (optional) says what else the flag asks, e.g. "at least 4M".
std::string bad_size(std::string_view flag, std::string_view text, std::string_view rule = {});

}  // namespace cli
