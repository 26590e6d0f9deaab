#pragma once
#include <bit>
#include <cstddef>
#include <system_error>

namespace adapters {

// The argument checks every BufferProvider::acquire() makes (see pool/buffer_provider.hpp).
[[nodiscard]] inline std::error_code check_request(std::size_t length, std::size_t alignment,
                                                   std::size_t max_length,
                                                   std::size_t max_alignment) noexcept {
  if (length == 0 || length > max_length) return std::make_error_code(std::errc::invalid_argument);
  if (!std::has_single_bit(alignment) || alignment > max_alignment)
    return std::make_error_code(std::errc::invalid_argument);
  return {};
}

}  // namespace adapters
