#pragma once
#include "ublk/target.hpp"

namespace ublk {

// Stands in for an application that needs the WRITE data: by the time handle() runs the data
// is in a provider buffer (the queue saw to that), and it is dropped. READs complete without
// filling. With no_data the queue skips buffers and copies where the mode allows, like other
// servers' null targets, which never read the data.
class NullTarget final : public Target {
 public:
  explicit NullTarget(bool no_data = false) : no_data_(no_data) {}
  [[nodiscard]] std::string_view name() const noexcept override { return "null"; }
  [[nodiscard]] bool wants_data() const noexcept override { return !no_data_; }
  void handle(const Request& request, Completion done) noexcept override;

 private:
  bool no_data_;
};

}  // namespace ublk
