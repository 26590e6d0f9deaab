#pragma once
// One machine-wide pool of 2 MiB hugetlb pages serves every test process of a parallel ctest run.
// Tests that count on free pages hold this lock shared; the one that exhausts the pool on purpose
// holds it exclusively, so it never runs while another test relies on pages it would take.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>
#include <thread>

namespace test_support {

class HugetlbLock {
 public:
  enum class Mode { kShared, kExclusive };
  explicit HugetlbLock(Mode mode) : fd_(::open("/tmp/ublkpool-tests-hugetlb.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0666)) {
    if (fd_ >= 0) ::flock(fd_, mode == Mode::kExclusive ? LOCK_EX : LOCK_SH);
  }
  ~HugetlbLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  HugetlbLock(const HugetlbLock&) = delete;
  HugetlbLock& operator=(const HugetlbLock&) = delete;

 private:
  int fd_;
};

// A "Key:  N" count of /proc/meminfo (HugePages_Free, HugePages_Total), or 0.
inline std::uint64_t meminfo_count(const std::string& key) {
  std::ifstream meminfo("/proc/meminfo");
  for (std::string line; std::getline(meminfo, line);)
    if (line.rfind(key + ":", 0) == 0) return std::stoull(line.substr(key.size() + 1));
  return 0;
}

// The free 2 MiB pages once at least `wanted` are free, or what is free after 10 s: pools of
// other test processes (automatic backing) hold pages for a moment. No wait where fewer than
// `wanted` exist at all.
inline std::uint64_t wait_for_free_hugepages_2m(std::uint64_t wanted) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::uint64_t free = meminfo_count("HugePages_Free");
  if (meminfo_count("HugePages_Total") < wanted) return free;
  while (free < wanted && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    free = meminfo_count("HugePages_Free");
  }
  return free;
}

}  // namespace test_support
