#pragma once
// A child process that cannot outlive its owner: the destructor kills and reaps it.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace mvg {

struct ChildSpec {
  explicit ChildSpec(std::vector<std::string> args) : argv(std::move(args)) {}
  ChildSpec& stdout_pipe() { pipe_stdout = true; return *this; }
  ChildSpec& stdout_to(std::string path) { stdout_file = std::move(path); return *this; }
  ChildSpec& stdout_to_our_stderr() { stdout_to_stderr = true; return *this; }
  ChildSpec& stderr_to(std::string path) { stderr_file = std::move(path); return *this; }
  ChildSpec& in_dir(std::string dir) { cwd = std::move(dir); return *this; }
  ChildSpec& with_env(std::string name_value) { env.push_back(std::move(name_value)); return *this; }

  std::vector<std::string> argv;
  bool pipe_stdout = false;       // else stdout goes to stdout_file, or is inherited
  std::string stdout_file;
  bool stdout_to_stderr = false;  // the child's stdout goes to our stderr (progress relays)
  std::string stderr_file;        // empty: inherited
  std::string cwd;                // empty: ours
  std::vector<std::string> env;   // NAME=VALUE added to ours
};

class ChildProcess {
 public:
  // Starts the child in a process group of its own (a terminal's Ctrl-C reaches only us, and we
  // stop the children in order), with SIGTERM as its parent-death signal. Throws std::system_error
  // when it cannot start, including when the program cannot be executed.
  explicit ChildProcess(const ChildSpec& spec);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  int stdout_fd() const { return stdout_fd_; }
  bool running();
  // The wait status once the child has exited.
  std::optional<int> status() const { return status_; }

  // Signals the child's whole process group.
  void signal(int sig) noexcept;
  // Waits up to `timeout` for the exit; returns the wait status when it exited.
  std::optional<int> wait_for(std::chrono::milliseconds timeout);
  // SIGTERM, a grace period, then SIGKILL; returns the wait status.
  int terminate(std::chrono::milliseconds grace);

 private:
  void reap(bool block);

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::optional<int> status_;
};

// "exit 3", "killed by SIGKILL".
std::string describe_status(int wait_status);
// The last non-empty line of a file (a failed child's reason), or "" when there is none.
std::string last_line_of(const std::string& path);
// The program's path from PATH, or "" when it is not found.
std::string find_in_path(const std::string& program);

}  // namespace mvg
