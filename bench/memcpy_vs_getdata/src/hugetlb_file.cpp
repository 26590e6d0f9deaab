#include "hugetlb_file.hpp"

#include <sys/mount.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>

namespace mvg {
namespace {

namespace fs = std::filesystem;

constexpr const char* kNrHugepages = "/proc/sys/vm/nr_hugepages";
constexpr std::uintmax_t kHugePage = 2u << 20;
// The file is one page, which the daemon and fio share; fio failed (SIGSEGV at start) with only 2
// in the pool in the 7.3 VM, and ran with 8, as tests/integration/shmem.sh has them.
constexpr unsigned kPagesWanted = 8;

std::string first_line(const char* path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

unsigned free_huge_pages() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  unsigned long value = 0;
  while (in >> key >> value) {
    if (key == "HugePages_Free:") return static_cast<unsigned>(value);
    in.ignore(256, '\n');
  }
  return 0;
}

}  // namespace

HugetlbFile::HugetlbFile(const fs::path& dir) : mount_point_(dir) {
  old_nr_hugepages_ = first_line(kNrHugepages);
  const unsigned long wanted = std::stoul(old_nr_hugepages_.empty() ? "0" : old_nr_hugepages_) + kPagesWanted;
  // A guest whose memory went to the page cache finds few free 2 MiB runs: drop the cache and
  // compact, then ask again.
  for (int attempt = 0; attempt < 3 && free_huge_pages() < kPagesWanted; ++attempt) {
    if (attempt > 0) {
      std::ofstream("/proc/sys/vm/drop_caches") << 3;
      std::ofstream("/proc/sys/vm/compact_memory") << 1;
    }
    std::ofstream(kNrHugepages) << wanted;
  }
  if (free_huge_pages() < kPagesWanted) {
    const std::string now = first_line(kNrHugepages);
    release();
    throw HugetlbError("no " + std::to_string(kPagesWanted) + " free 2 MiB huge pages (" + kNrHugepages + " " + now +
                       ", HugePages_Free " + std::to_string(free_huge_pages()) + ")");
  }
  std::error_code ec;
  fs::create_directories(mount_point_, ec);
  if (::mount("none", mount_point_.c_str(), "hugetlbfs", 0, "pagesize=2M") != 0) {
    const int err = errno;
    release();
    throw HugetlbError("cannot mount hugetlbfs on " + mount_point_.string() + ": " + std::strerror(err));
  }
  mounted_ = true;
  file_ = (mount_point_ / "fio-buffers").string();
}

void HugetlbFile::fresh_file() const {
  std::error_code ec;
  fs::remove(file_, ec);
  std::ofstream{file_};
  fs::resize_file(file_, kHugePage, ec);
  if (ec) throw HugetlbError("cannot make " + file_ + ": " + ec.message());
}

HugetlbFile::~HugetlbFile() { release(); }

void HugetlbFile::release() noexcept {
  std::error_code ec;
  if (mounted_) {
    if (!file_.empty()) fs::remove(file_, ec);
    ::umount(mount_point_.c_str());
    mounted_ = false;
  }
  fs::remove(mount_point_, ec);
  if (!old_nr_hugepages_.empty()) std::ofstream(kNrHugepages) << old_nr_hugepages_;
}

}  // namespace mvg
