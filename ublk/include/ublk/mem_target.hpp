#pragma once
#include <cstdint>

#include "ublk/mapping.hpp"
#include "ublk/target.hpp"
#include "ublk/unique_fd.hpp"

namespace ublk {

// A RAM disk. The data lives in a memfd mapping rather than anonymous memory so that a later
// recovery feature can hand the memfd to a restarted daemon and keep the data across a crash.
class MemTarget final : public Target {
 public:
  explicit MemTarget(std::uint64_t size_bytes);  // throws std::system_error
  [[nodiscard]] std::string_view name() const noexcept override { return "mem"; }
  void handle(const Request& request, Completion done) noexcept override;

  [[nodiscard]] int memfd() const noexcept { return memfd_.get(); }
  [[nodiscard]] std::uint64_t size() const noexcept { return size_; }

 private:
  int discard(std::uint64_t offset, std::uint64_t length) noexcept;

  std::uint64_t size_;
  UniqueFd memfd_;
  Mapping data_;
};

}  // namespace ublk
