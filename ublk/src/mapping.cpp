#include "ublk/mapping.hpp"

#include <cerrno>
#include <string>
#include <system_error>

namespace ublk {

Mapping Mapping::map(std::size_t length, int prot, int flags, int fd, off_t offset, const char* what) {
  void* addr = ::mmap(nullptr, length, prot, flags, fd, offset);
  if (addr == MAP_FAILED) throw std::system_error(errno, std::generic_category(), std::string("mmap ") + what);
  return Mapping(addr, length);
}

Mapping Mapping::anonymous(std::size_t length, const char* what) {
  return map(length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0, what);
}

}  // namespace ublk
