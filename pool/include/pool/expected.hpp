#pragma once
// A small expected-style result for the IO path (C++20 has no std::expected).
#include <cassert>
#include <system_error>
#include <utility>
#include <variant>

namespace pool {

template <class T>
class Expected {
 public:
  Expected(T value) noexcept(std::is_nothrow_move_constructible_v<T>) : state_(std::move(value)) {}
  Expected(std::error_code error) noexcept : state_(error) { assert(error); }
  Expected(std::errc error) noexcept : Expected(std::make_error_code(error)) {}

  [[nodiscard]] bool has_value() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  [[nodiscard]] T& value() & noexcept { assert(has_value()); return *std::get_if<0>(&state_); }
  [[nodiscard]] const T& value() const& noexcept { assert(has_value()); return *std::get_if<0>(&state_); }
  [[nodiscard]] T&& value() && noexcept { assert(has_value()); return std::move(*std::get_if<0>(&state_)); }
  T& operator*() & noexcept { return value(); }
  const T& operator*() const& noexcept { return value(); }
  T* operator->() noexcept { return &value(); }
  const T* operator->() const noexcept { return &value(); }

  [[nodiscard]] std::error_code error() const noexcept {
    const auto* e = std::get_if<1>(&state_);
    return e ? *e : std::error_code{};
  }

 private:
  std::variant<T, std::error_code> state_;
};

}  // namespace pool
