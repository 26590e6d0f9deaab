#pragma once
#include <coroutine>
#include <exception>
#include <optional>
#include <stdexcept>
#include <utility>

namespace ublk::nbd {

template <class T>
struct TaskResult {
  std::optional<T> value;
  void return_value(T v) { value.emplace(std::move(v)); }
  T get() { return std::move(*value); }
};
template <>
struct TaskResult<void> {
  void return_void() noexcept {}
  void get() noexcept {}
};

// A coroutine that starts when first awaited (or run()) and hands its result, or the exception it
// ended with, to whoever awaits it. The handshake is written once as such coroutines and driven
// either by blocking socket calls (every step completes before it would suspend, so run()
// returns with the task done) or by the queue's ring (each step suspends it until its CQE).
// Destroying a task destroys its frame, and with it the frames of the tasks it awaits.
template <class T>
class [[nodiscard]] Task {
 public:
  struct promise_type : TaskResult<T> {
    std::exception_ptr error;
    std::coroutine_handle<> continuation = std::noop_coroutine();

    Task get_return_object() noexcept { return Task(Handle::from_promise(*this)); }
    std::suspend_always initial_suspend() noexcept { return {}; }
    auto final_suspend() noexcept {
      struct Resume {
        bool await_ready() noexcept { return false; }
        std::coroutine_handle<> await_suspend(Handle done) noexcept { return done.promise().continuation; }
        void await_resume() noexcept {}
      };
      return Resume{};
    }
    void unhandled_exception() noexcept { error = std::current_exception(); }
  };
  using Handle = std::coroutine_handle<promise_type>;

  Task() noexcept = default;
  Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      reset();
      handle_ = std::exchange(other.handle_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() { reset(); }

  // Awaited from another task: runs this one, and resumes the awaiting one when it is done.
  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> waiting) noexcept {
    handle_.promise().continuation = waiting;
    return handle_;
  }
  T await_resume() { return result(); }

  // The outermost task: runs it until it first waits for a step that is not done yet, or ends.
  void run() { handle_.resume(); }
  [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(handle_); }
  [[nodiscard]] bool done() const noexcept { return handle_ && handle_.done(); }
  // Once done: its value, or it throws what the task ended with.
  T result() {
    if (!done()) throw std::logic_error("the task has not finished");
    if (handle_.promise().error) std::rethrow_exception(handle_.promise().error);
    return handle_.promise().get();
  }
  void reset() noexcept {
    if (handle_) std::exchange(handle_, {}).destroy();
  }

 private:
  explicit Task(Handle handle) noexcept : handle_(handle) {}
  Handle handle_;
};

}  // namespace ublk::nbd
