#pragma once
// What the kernel says about this process's memory: /proc/self/statm, smaps and /proc/meminfo.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

namespace pool_test {

inline std::uint64_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

// A meminfo-style "Key:  N kB" value from `path`, or 0.
inline std::uint64_t meminfo_value(const std::string& key, const char* path = "/proc/meminfo") {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0) return std::stoull(line.substr(key.size() + 1));
  return 0;
}

inline std::uint64_t free_hugepages_2m() { return meminfo_value("HugePages_Free"); }

inline std::uint64_t free_hugepages_1g() {
  std::ifstream in("/sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages");
  std::uint64_t n = 0;
  in >> n;
  return n;
}

// The smaps entry of the mapping that holds an address (all values in kB, 0 if absent).
struct SmapsEntry {
  bool found = false;
  std::uint64_t size_kb = 0, rss_kb = 0, anon_huge_kb = 0, kernel_page_kb = 0, private_hugetlb_kb = 0;
};

inline SmapsEntry smaps_for(const void* address) {
  const auto target = reinterpret_cast<std::uintptr_t>(address);
  std::ifstream in("/proc/self/smaps");
  std::string line;
  SmapsEntry entry;
  bool inside = false;
  while (std::getline(in, line)) {
    std::uintptr_t start = 0, end = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &start, &end) == 2 && line.find(':') > line.find(' ')) {
      if (inside) break;
      inside = target >= start && target < end;
      entry.found = inside;
      continue;
    }
    if (!inside) continue;
    std::istringstream fields(line);
    std::string key;
    std::uint64_t value = 0;
    fields >> key >> value;
    if (key == "Size:") entry.size_kb = value;
    else if (key == "Rss:") entry.rss_kb = value;
    else if (key == "AnonHugePages:") entry.anon_huge_kb = value;
    else if (key == "KernelPageSize:") entry.kernel_page_kb = value;
    else if (key == "Private_Hugetlb:") entry.private_hugetlb_kb = value;
  }
  return entry;
}

}  // namespace pool_test
