#include "hugetlb_file.hpp"

#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace mvg {
namespace {

namespace fs = std::filesystem;

constexpr const char* kNrHugepages = "/proc/sys/vm/nr_hugepages";
constexpr std::uintmax_t kHugePage = 2u << 20;
// fio rounds its buffers (bs x iodepth, 1 MiB at most here) up to one huge page; the daemon
// maps the same page.
constexpr unsigned kPagesWanted = 2;

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
  if (free_huge_pages() < kPagesWanted) {
    std::ofstream(kNrHugepages) << std::stoul(old_nr_hugepages_.empty() ? "0" : old_nr_hugepages_) + kPagesWanted;
  }
  if (free_huge_pages() < kPagesWanted) {
    release();
    throw HugetlbError("no " + std::to_string(kPagesWanted) + " free 2 MiB huge pages (" + kNrHugepages + ")");
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
  std::ofstream{file_};
  fs::resize_file(file_, kHugePage, ec);
  if (ec) {
    release();
    throw HugetlbError("cannot size " + file_ + ": " + ec.message());
  }
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
