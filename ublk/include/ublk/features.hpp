#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ublk {

// A set of UBLK_F_* bits, as GET_FEATURES or ADD_DEV hand them back.
class Features {
 public:
  constexpr Features() = default;
  constexpr explicit Features(std::uint64_t bits) : bits_(bits) {}

  [[nodiscard]] constexpr std::uint64_t bits() const noexcept { return bits_; }
  [[nodiscard]] constexpr bool has(std::uint64_t flag) const noexcept { return (bits_ & flag) == flag; }

  // Names of the set bits, lowest first ("NEED_GET_DATA", ...); unknown bits as "BIT_<n>".
  [[nodiscard]] std::vector<std::string> names() const;
  // "0x... (A|B|C)"
  [[nodiscard]] std::string to_string() const;

 private:
  std::uint64_t bits_ = 0;
};

// The kernel name of one flag bit without the UBLK_F_ prefix, or nullopt for an unknown bit.
std::optional<std::string_view> feature_name(unsigned bit) noexcept;
// The bit of a feature name (with or without "UBLK_F_", any case), or nullopt.
std::optional<unsigned> feature_bit(std::string_view name) noexcept;

}  // namespace ublk
