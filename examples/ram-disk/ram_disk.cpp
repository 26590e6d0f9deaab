// A ublk device with its own target (a RAM disk) and buffer provider (aligned operator new).
// ram_disk [copy|get_data|user_copy|auto] [MiB]: prints /dev/ublkbN; SIGINT/SIGTERM removes it.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "ublk/control.hpp"
#include "ublk/device.hpp"

namespace {
class AlignedNewProvider final : public pool::BufferProvider {
 public:
  std::string_view name() const noexcept override { return "aligned_new"; }
  std::size_t max_length() const noexcept override { return std::size_t{1} << 20; }
  pool::Expected<pool::Buffer> acquire(std::size_t length, std::size_t alignment) noexcept override {
    if (length == 0 || length > max_length() || (alignment & (alignment - 1)) != 0) return std::errc::invalid_argument;
    auto* data = static_cast<std::byte*>(::operator new(length, std::align_val_t{alignment}, std::nothrow));
    if (!data) return std::errc::not_enough_memory;
    return pool::Buffer{data, length, length, this, alignment};  // the cookie keeps the alignment
  }
  std::error_code release(const pool::Buffer& buffer) noexcept override {
    if (buffer.owner != this) return std::make_error_code(std::errc::invalid_argument);
    ::operator delete(buffer.data, std::align_val_t{buffer.cookie});
    return {};
  }
};

class RamDisk final : public ublk::Target {
 public:
  explicit RamDisk(std::size_t bytes) : store_(bytes) {}
  std::string_view name() const noexcept override { return "ram_disk"; }
  void handle(const ublk::Request& request, ublk::Completion done) noexcept override {
    if (request.offset + request.length > store_.size()) return done(-EIO);
    std::byte* at = store_.data() + request.offset;
    using ublk::IoOp;
    if (request.op == IoOp::kRead) std::memcpy(request.data.data(), at, request.length);
    else if (request.op == IoOp::kWrite) std::memcpy(at, request.data.data(), request.length);
    else if (request.op != IoOp::kFlush) return done(-EOPNOTSUPP);
    done(static_cast<int>(request.length), request.length);
  }
 private:
  std::vector<std::byte> store_;
};
}  // namespace

int main(int argc, char** argv) {
  const auto mode = ublk::parse_mode(argc > 1 ? argv[1] : "auto");
  const std::uint64_t mib = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 64;
  if (!mode || mib == 0) return std::fprintf(stderr, "usage: ram_disk [copy|get_data|user_copy|auto] [MiB]\n"), 2;
  sigset_t stop;  // blocked before the queue threads start, so that they inherit the mask
  sigemptyset(&stop), sigaddset(&stop, SIGINT), sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  try {
    ublk::Control control;
    auto choice = ublk::choose_mode(*mode, control.features().features);
    if (auto* refusal = std::get_if<ublk::ModeRefusal>(&choice))
      return std::fprintf(stderr, "ram_disk: %s\n", refusal->message.c_str()), 1;
    ublk::DeviceConfig config;
    config.size_bytes = mib << 20;
    config.mode = std::get<ublk::ModeChoice>(choice).mode;
    AlignedNewProvider provider;
    RamDisk disk(config.size_bytes);
    ublk::Device device(control, config, provider, disk);
    device.start();
    std::printf("%s\n", device.block_path().c_str());
    std::fflush(stdout);
    int signal = 0;
    sigwait(&stop, &signal);
    if (auto error = device.stop()) return std::fprintf(stderr, "ram_disk: stop: %s\n", error.message().c_str()), 1;
    const ublk::IoStats io = device.stats();
    std::fprintf(stderr, "ram_disk: mode %s: %llu IOs, %llu errors\n", std::string(ublk::to_string(config.mode)).c_str(),
                 static_cast<unsigned long long>(io.reads + io.writes), static_cast<unsigned long long>(io.errors));
  } catch (const std::exception& e) {
    return std::fprintf(stderr, "ram_disk: %s\n", e.what()), 1;
  }
}
