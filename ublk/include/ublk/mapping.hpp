#pragma once
#include <sys/mman.h>

#include <cstddef>
#include <utility>

namespace ublk {

// Owns one mmap()ed range.
class Mapping {
 public:
  Mapping() = default;
  Mapping(void* addr, std::size_t length) noexcept : addr_(addr), length_(length) {}
  Mapping(Mapping&& other) noexcept
      : addr_(std::exchange(other.addr_, nullptr)), length_(std::exchange(other.length_, 0)) {}
  Mapping& operator=(Mapping&& other) noexcept {
    if (this != &other) {
      reset();
      addr_ = std::exchange(other.addr_, nullptr);
      length_ = std::exchange(other.length_, 0);
    }
    return *this;
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() { reset(); }

  // mmap() or throw std::system_error naming `what`.
  static Mapping map(std::size_t length, int prot, int flags, int fd, off_t offset, const char* what);
  // Private anonymous read-write memory.
  static Mapping anonymous(std::size_t length, const char* what);

  [[nodiscard]] void* get() const noexcept { return addr_; }
  [[nodiscard]] std::byte* bytes() const noexcept { return static_cast<std::byte*>(addr_); }
  [[nodiscard]] std::size_t size() const noexcept { return length_; }
  void reset() noexcept {
    if (addr_) ::munmap(addr_, length_);
    addr_ = nullptr;
    length_ = 0;
  }

 private:
  void* addr_ = nullptr;
  std::size_t length_ = 0;
};

}  // namespace ublk
