#pragma once
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "ublk/target.hpp"

namespace ublk {

// Stands in for an application that needs the WRITE data: by the time handle() runs the data
// is in a provider buffer (the queue saw to that), and it is dropped. READs complete without
// filling. With no_data the queue skips buffers and copies where the mode allows, like other
// servers' null targets, which never read the data. With async every request is completed
// from a worker thread, which exercises the queues' cross-thread completion path.
class NullTarget final : public Target {
 public:
  explicit NullTarget(bool no_data = false, bool async = false);
  ~NullTarget() override;
  NullTarget(const NullTarget&) = delete;
  NullTarget& operator=(const NullTarget&) = delete;

  [[nodiscard]] std::string_view name() const noexcept override { return "null"; }
  [[nodiscard]] bool wants_data() const noexcept override { return !no_data_; }
  void handle(const Request& request, Completion done) noexcept override;

 private:
  struct Pending {
    Completion done;
    int result;
  };
  void work();

  bool no_data_;
  bool async_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> pending_;  // guarded by mutex_
  bool stopping_ = false;        // guarded by mutex_
  std::thread worker_;
};

}  // namespace ublk
