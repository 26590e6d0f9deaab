// ublk_features: asks /dev/ublk-control for the kernel's ublk feature flags (UBLK_CMD_GET_FEATURES
// through io_uring URING_CMD) and prints them as "features 0xHEX NAME...". The VM smoke test uses
// it to prove that the booted kernel really offers the modes the daemons will ask for.
// Self-contained on purpose: it checks the kernel, not the project's own control code.
#include <liburing.h>
#include <linux/ublk_cmd.h>
#include <sys/ioctl.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unistd.h>

namespace {

// Debian 12's <linux/ublk_cmd.h> is the 6.1 header: these are the later ABI numbers.
constexpr std::uint32_t kGetFeaturesNr = 0x13;
constexpr std::uint32_t kGetFeaturesEncoded = _IOR('u', kGetFeaturesNr, struct ublksrv_ctrl_cmd);
constexpr std::uint32_t kNoDevice = 0xffffffffU;

constexpr std::array<std::string_view, 15> kFeatureNames = {
    "SUPPORT_ZERO_COPY", "URING_CMD_COMP_IN_TASK", "NEED_GET_DATA", "USER_RECOVERY",
    "USER_RECOVERY_REISSUE", "UNPRIVILEGED_DEV", "CMD_IOCTL_ENCODE", "USER_COPY", "ZONED",
    "USER_RECOVERY_FAIL_IO", "UPDATE_SIZE", "AUTO_BUF_REG", "QUIESCE", "PER_IO_DAEMON",
    "BUF_REG_OFF_DAEMON"};

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

class Ring {
 public:
  Ring() {
    if (int rc = io_uring_queue_init(4, &ring_, IORING_SETUP_SQE128); rc < 0)
      throw std::runtime_error(std::string("io_uring_queue_init(SQE128): ") + std::strerror(-rc));
  }
  ~Ring() { io_uring_queue_exit(&ring_); }
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // Issues one control command and returns the CQE result (negative errno on failure).
  int control(int fd, std::uint32_t op, const ublksrv_ctrl_cmd& cmd) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) throw std::runtime_error("io_uring: no free SQE");
    std::memset(sqe, 0, 2 * sizeof(io_uring_sqe));
    sqe->opcode = IORING_OP_URING_CMD;
    sqe->fd = fd;
    sqe->cmd_op = op;
    std::memcpy(reinterpret_cast<std::byte*>(sqe) + offsetof(io_uring_sqe, cmd), &cmd, sizeof cmd);
    if (int rc = io_uring_submit(&ring_); rc != 1)
      throw std::runtime_error(std::string("io_uring_submit: ") + std::strerror(rc < 0 ? -rc : EIO));
    io_uring_cqe* cqe = nullptr;
    if (int rc = io_uring_wait_cqe(&ring_, &cqe); rc < 0)
      throw std::runtime_error(std::string("io_uring_wait_cqe: ") + std::strerror(-rc));
    const int res = cqe->res;
    io_uring_cqe_seen(&ring_, cqe);
    return res;
  }

 private:
  io_uring ring_{};
};

std::uint64_t get_features(const char* control_path) {
  Fd control(::open(control_path, O_RDWR | O_CLOEXEC));
  if (control.get() < 0)
    throw std::runtime_error(std::string("cannot open ") + control_path + ": " + std::strerror(errno));
  std::uint64_t features = 0;
  ublksrv_ctrl_cmd cmd{};
  cmd.dev_id = kNoDevice;
  cmd.queue_id = static_cast<__u16>(-1);
  cmd.addr = reinterpret_cast<std::uintptr_t>(&features);
  cmd.len = sizeof features;
  Ring ring;
  int res = ring.control(control.get(), kGetFeaturesEncoded, cmd);
  // Kernels built without CMD_IOCTL_ENCODE understand only the bare command number.
  if (res == -EOPNOTSUPP || res == -EINVAL || res == -ENOTTY) res = ring.control(control.get(), kGetFeaturesNr, cmd);
  if (res < 0) throw std::runtime_error(std::string("UBLK_CMD_GET_FEATURES: ") + std::strerror(-res));
  return features;
}

}  // namespace

int main(int argc, char** argv) {
  const char* control_path = "/dev/ublk-control";
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::puts("usage: ublk_features [--control PATH]\n"
                "Prints the ublk driver's feature flags: \"features 0xHEX NAME...\".");
      return 0;
    }
    if (arg == "--control" && i + 1 < argc) {
      control_path = argv[++i];
      continue;
    }
    std::fprintf(stderr, "ublk_features: unknown argument '%s' (see --help)\n", argv[i]);
    return 2;
  }
  try {
    const std::uint64_t features = get_features(control_path);
    std::printf("features 0x%llx", static_cast<unsigned long long>(features));
    for (unsigned bit = 0; bit < 64; ++bit) {
      if ((features & (std::uint64_t{1} << bit)) == 0) continue;
      if (bit < kFeatureNames.size())
        std::printf(" %.*s", static_cast<int>(kFeatureNames[bit].size()), kFeatureNames[bit].data());
      else
        std::printf(" bit%u", bit);
    }
    std::printf("\n");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ublk_features: %s\n", e.what());
    return 1;
  }
}
