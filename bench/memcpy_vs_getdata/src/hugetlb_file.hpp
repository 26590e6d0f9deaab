#pragma once
// The shmem_zc column's shared memory: a 2 MiB file on a private hugetlbfs mount, which the daemon
// maps with --shmem-file and fio with --mem=mmaphuge. Each run makes it anew (fresh_file), so that
// no run starts from what the one before left in it. The destructor unmounts and gives the huge
// pages back as they were.

#include <filesystem>
#include <stdexcept>
#include <string>

namespace mvg {

struct HugetlbError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class HugetlbFile {
 public:
  // Mounts hugetlbfs under `dir` (created). Throws HugetlbError, saying what failed (no root, no
  // hugetlbfs, no free huge pages).
  explicit HugetlbFile(const std::filesystem::path& dir);
  ~HugetlbFile();
  HugetlbFile(const HugetlbFile&) = delete;
  HugetlbFile& operator=(const HugetlbFile&) = delete;

  const std::string& path() const { return file_; }
  // Makes the file (again) at its size, empty; throws HugetlbError.
  void fresh_file() const;

 private:
  void release() noexcept;

  std::filesystem::path mount_point_;
  std::string file_;
  std::string old_nr_hugepages_;
  bool mounted_ = false;
};

}  // namespace mvg
