#include "child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <system_error>
#include <thread>

namespace mvg {
namespace {

[[noreturn]] void child_fail(int report_fd) {
  int err = errno;
  [[maybe_unused]] auto n = write(report_fd, &err, sizeof err);
  _exit(127);
}

int open_for_write(const std::string& path) {
  return open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

}  // namespace

ChildProcess::ChildProcess(const ChildSpec& spec) {
  if (spec.argv.empty()) throw std::invalid_argument("ChildProcess: empty argv");
  int out_pipe[2] = {-1, -1};
  if (spec.pipe_stdout && pipe2(out_pipe, O_CLOEXEC) != 0) {
    throw std::system_error(errno, std::generic_category(), "pipe");
  }
  // exec failure travels back through a close-on-exec pipe: EOF means the exec succeeded.
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    int err = errno;
    if (spec.pipe_stdout) close(out_pipe[0]), close(out_pipe[1]);
    throw std::system_error(err, std::generic_category(), "pipe");
  }
  // Everything the child needs is built before fork: only async-signal-safe calls after it.
  std::vector<char*> argv;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  env_strings.insert(env_strings.end(), spec.env.begin(), spec.env.end());
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string program = spec.argv[0];
  if (program.find('/') == std::string::npos) {
    auto found = find_in_path(program);
    if (!found.empty()) program = found;
  }
  pid_t parent = getpid();

  pid_ = fork();
  if (pid_ < 0) {
    int err = errno;
    close(report[0]), close(report[1]);
    if (spec.pipe_stdout) close(out_pipe[0]), close(out_pipe[1]);
    throw std::system_error(err, std::generic_category(), "fork");
  }
  if (pid_ == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (!spec.cwd.empty() && chdir(spec.cwd.c_str()) != 0) child_fail(report[1]);
    if (spec.pipe_stdout) {
      if (dup2(out_pipe[1], STDOUT_FILENO) < 0) child_fail(report[1]);
    } else if (!spec.stdout_file.empty()) {
      int fd = open_for_write(spec.stdout_file);
      if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0) child_fail(report[1]);
    } else if (spec.stdout_to_stderr) {
      if (dup2(STDERR_FILENO, STDOUT_FILENO) < 0) child_fail(report[1]);
    }
    if (!spec.stderr_file.empty()) {
      int fd = open_for_write(spec.stderr_file);
      if (fd < 0 || dup2(fd, STDERR_FILENO) < 0) child_fail(report[1]);
    }
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    execve(program.c_str(), argv.data(), envp.data());
    child_fail(report[1]);
  }
  // Also from the parent, so that a signal sent right away reaches the group.
  setpgid(pid_, pid_);
  close(report[1]);
  if (spec.pipe_stdout) {
    close(out_pipe[1]);
    stdout_fd_ = out_pipe[0];
  }
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(report[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  close(report[0]);
  if (n == sizeof child_errno) {
    reap(true);
    if (stdout_fd_ >= 0) close(stdout_fd_);
    stdout_fd_ = -1;
    throw std::system_error(child_errno, std::generic_category(), "cannot run " + spec.argv[0]);
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !status_) {
    signal(SIGKILL);
    reap(true);
  }
  if (stdout_fd_ >= 0) close(stdout_fd_);
}

void ChildProcess::reap(bool block) {
  if (status_) return;
  int st = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &st, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) status_ = st;
}

bool ChildProcess::running() {
  reap(false);
  return !status_;
}

void ChildProcess::signal(int sig) noexcept {
  if (pid_ <= 0) return;
  // The group may already be empty while the leader is a zombie; then signal the leader itself.
  if (kill(-pid_, sig) != 0 && !status_) kill(pid_, sig);
}

std::optional<int> ChildProcess::wait_for(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return status_;
}

int ChildProcess::terminate(std::chrono::milliseconds grace) {
  if (running()) {
    signal(SIGTERM);
    if (!wait_for(grace)) {
      signal(SIGKILL);
      reap(true);
    }
  }
  return *status_;
}

std::string describe_status(int st) {
  if (WIFEXITED(st)) return "exit " + std::to_string(WEXITSTATUS(st));
  if (WIFSIGNALED(st)) {
    const char* name = sigabbrev_np(WTERMSIG(st));
    return name ? std::string("killed by SIG") + name
                : "killed by signal " + std::to_string(WTERMSIG(st));
  }
  return "status " + std::to_string(st);
}

std::string last_line_of(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
  }
  return last;
}

std::string find_in_path(const std::string& program) {
  const char* path = getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    auto end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(start, end - start) + "/" + program;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return {};
}

}  // namespace mvg
