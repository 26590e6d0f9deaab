#include "loop_target.hpp"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <system_error>

namespace ublk {

namespace {

constexpr std::uint32_t kData = 0;  // cookies: which SQE of a request a CQE belongs to
constexpr std::uint32_t kSync = 1;
constexpr std::uint32_t kMaxDiscardBytes = 1U << 30;
constexpr int kPunch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
constexpr int kZeroRange = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;

[[noreturn]] void fail(int error, const std::string& what) {
  throw std::system_error(error, std::generic_category(), what);
}

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// The block layer's own write-zeroes limit of a block device: fallocate(PUNCH_HOLE) on it only
// works where the device zeroes without writing.
std::uint64_t sysfs_write_zeroes_max(dev_t dev) {
  std::ifstream in("/sys/dev/block/" + std::to_string(major(dev)) + ":" + std::to_string(minor(dev)) +
                   "/queue/write_zeroes_max_bytes");
  std::uint64_t bytes = 0;
  in >> bytes;
  return in ? bytes : 0;
}

std::string mode_name(int mode) {
  if (mode == kPunch) return "punch hole";
  if (mode == kZeroRange) return "zero range";
  return "not offered";
}

}  // namespace

LoopTarget::LoopTarget(LoopConfig config) {
  open_backing(config);
  queues_.resize(config.queues);
  for (auto& q : queues_) q.tags.resize(config.depth);
}

void LoopTarget::open_backing(const LoopConfig& config) {
  const int base = O_RDWR | O_CLOEXEC | (config.size ? O_CREAT : 0);
  std::string why_buffered = "--buffered";
  if (!config.buffered) {
    fd_.reset(::open(config.path.c_str(), base | O_DIRECT, 0600));
    if (fd_) {
      direct_ = true;
    } else if (errno == EINVAL) {
      why_buffered = "the file system refused O_DIRECT (EINVAL)";
    } else {
      fail(errno, "open " + config.path);
    }
  }
  if (!fd_) fd_.reset(::open(config.path.c_str(), base, 0600));
  if (!fd_) fail(errno, "open " + config.path);

  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0) fail(errno, "fstat " + config.path);
  const bool block_device = S_ISBLK(st.st_mode);
  if (!block_device && !S_ISREG(st.st_mode)) {
    throw std::runtime_error(config.path + " is neither a regular file nor a block device");
  }

  // The logical block: the device's sector size, or the smallest O_DIRECT alignment of the file.
  std::uint32_t native = 512;
  if (block_device) {
    int sector = 0;
    if (::ioctl(fd_.get(), BLKSSZGET, &sector) != 0) fail(errno, "BLKSSZGET on " + config.path);
    native = static_cast<std::uint32_t>(sector);
  } else if (direct_) {
    struct statx sx {};
    if (::statx(fd_.get(), "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 && (sx.stx_mask & STATX_DIOALIGN) &&
        sx.stx_dio_offset_align > 0) {
      native = std::max<std::uint32_t>(512, sx.stx_dio_offset_align);
    }
  }
  logical_block_ = config.logical_block ? config.logical_block : native;
  if (logical_block_ != 512 && logical_block_ != 4096) {
    throw std::runtime_error(config.path + ": logical block " + std::to_string(logical_block_) +
                             " is not 512 or 4096; give --logical-block");
  }
  if (direct_ && logical_block_ < native) {
    // O_DIRECT IO smaller than the backing's alignment fails: go through the page cache.
    fd_.reset(::open(config.path.c_str(), O_RDWR | O_CLOEXEC));
    if (!fd_) fail(errno, "open " + config.path);
    direct_ = false;
    why_buffered = "--logical-block " + std::to_string(logical_block_) + " is below the O_DIRECT alignment " +
                   std::to_string(native);
  }

  std::uint64_t backing = 0;
  if (block_device) {
    if (::ioctl(fd_.get(), BLKGETSIZE64, &backing) != 0) fail(errno, "BLKGETSIZE64 on " + config.path);
    if (config.size && *config.size > backing) {
      throw std::runtime_error(config.path + " holds " + std::to_string(backing) + " bytes, fewer than --size " +
                               std::to_string(*config.size));
    }
  } else {
    backing = static_cast<std::uint64_t>(st.st_size);
    if (config.size && *config.size > backing) {
      if (::ftruncate(fd_.get(), static_cast<off_t>(*config.size)) != 0) fail(errno, "extend " + config.path);
      backing = *config.size;
    }
  }
  size_ = (config.size ? *config.size : backing) / logical_block_ * logical_block_;
  if (size_ == 0) throw std::runtime_error(config.path + " is empty; give --size to create or extend it");

  probe_fallocate(config.path, block_device);
  description_ = std::string(block_device ? "block device " : "file ") + config.path + ", " +
                 std::to_string(size_) + " bytes, logical block " + std::to_string(logical_block_) + ", " +
                 (direct_ ? std::string("O_DIRECT") : "buffered (" + why_buffered + ")") +
                 "; discard: " + mode_name(discard_mode_) + ", write zeroes: " + mode_name(write_zeroes_mode_);
}

void LoopTarget::probe_fallocate(const std::string& path, bool block_device) {
  if (block_device) {
    // ZERO_RANGE on a block device falls back to writing zeroes; PUNCH_HOLE does not.
    struct stat st {};
    ::fstat(fd_.get(), &st);
    write_zeroes_mode_ = kZeroRange;
    if (sysfs_write_zeroes_max(st.st_rdev) > 0) discard_mode_ = kPunch;
    return;
  }
  // Probing the file itself would destroy data: try a nameless file beside it, same file system.
  UniqueFd probe(::open(directory_of(path).c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (!probe || ::ftruncate(probe.get(), 1 << 16) != 0) return;
  if (::fallocate(probe.get(), kPunch, 0, 4096) == 0) discard_mode_ = kPunch;
  if (::fallocate(probe.get(), kZeroRange, 4096, 4096) == 0) {
    write_zeroes_mode_ = kZeroRange;
  } else {
    write_zeroes_mode_ = discard_mode_;  // a punched hole reads back as zeroes too
  }
}

TargetTraits LoopTarget::traits() const noexcept {
  TargetTraits t;
  t.size_bytes = size_;
  t.logical_block = logical_block_;
  t.volatile_cache = true;  // the page cache, or the backing device's own cache
  t.fua = true;
  t.fixed_buffers = true;
  t.time_backend = true;
  t.zero_copy = true;
  if (discard_mode_ >= 0) t.max_discard_bytes = kMaxDiscardBytes;
  if (write_zeroes_mode_ >= 0) t.max_write_zeroes_bytes = kMaxDiscardBytes;
  t.discard_granularity = logical_block_;
  return t;
}

std::vector<TargetCounter> LoopTarget::counters() const {
  std::uint64_t syncs = 0;
  std::uint64_t fixed = 0;
  for (const auto& q : queues_) {
    syncs += q.fdatasyncs.load();
    fixed += q.fixed_buffer_ios.load();
  }
  return {{"fdatasyncs", syncs}, {"fixed_buffer_ios", fixed}};
}

void LoopTarget::on_queue_start(QueueContext& queue) {
  QueueState& q = queues_.at(queue.id());
  const int fd = fd_.get();
  const int index = queue.register_files({&fd, 1});
  q.fixed_file = index >= 0;
  q.file = q.fixed_file ? index : fd;
}

RingIo LoopTarget::file_io(const QueueState& q, RingIo io) const noexcept {
  io.fd = q.file;
  io.fixed_file = q.fixed_file;
  return io;
}

void LoopTarget::handle(const Request& request, Completion done) noexcept {
  if (request.queue >= queues_.size() || request.tag >= queues_[request.queue].tags.size()) return done(-EIO);
  // A FLUSH carries no range (the block layer leaves its sector at -1).
  const bool ranged = request.op != IoOp::kFlush;
  if (ranged && (request.offset > size_ || request.length > size_ - request.offset)) return done(-EIO);
  QueueContext& queue = done.queue();
  QueueState& q = queues_[request.queue];
  TagIo& io = q.tags[request.tag];
  io = TagIo{};
  switch (request.op) {
    case IoOp::kRead:
    case IoOp::kWrite:
      if (request.registered_pages) {
        if (request.fixed_buffer < 0) return done(-EIO);
        io.registered_pages = true;
      } else {
        if (request.data.size() < request.length) return done(-EIO);
        io.data = request.data.first(request.length);
      }
      io.length = request.length;
      io.offset = request.offset;
      io.fixed_buffer = request.fixed_buffer;
      io.write = request.op == IoOp::kWrite;
      io.fua = io.write && (request.flags & kIoFlagFua) != 0;
      if (request.length == 0) return done(0);
      return issue_transfer(queue, q, request.tag);
    case IoOp::kFlush:
      return issue_single(queue, q, request.tag, kSync, RingIo::fdatasync(0));
    case IoOp::kDiscard:
      if (discard_mode_ < 0) return done(-EOPNOTSUPP);
      return issue_single(queue, q, request.tag, kData,
                          RingIo::fallocate(0, discard_mode_, request.offset, request.length));
    case IoOp::kWriteZeroes:
      if (write_zeroes_mode_ < 0) return done(-EOPNOTSUPP);
      return issue_single(queue, q, request.tag, kData,
                          RingIo::fallocate(0, write_zeroes_mode_, request.offset, request.length));
    default:
      return done(-EOPNOTSUPP);
  }
}

void LoopTarget::issue_single(QueueContext& queue, QueueState& q, unsigned tag, std::uint32_t cookie,
                              const RingIo& io) noexcept {
  if (queue.submit(tag, cookie, file_io(q, io))) return queue.completion(tag)(-EIO);
  q.tags[tag].pending = 1;
}

// The rest of a READ or WRITE (all of it the first time), and for a FUA WRITE a linked fdatasync.
void LoopTarget::issue_transfer(QueueContext& queue, QueueState& q, unsigned tag) noexcept {
  TagIo& io = q.tags[tag];
  const std::uint64_t offset = io.offset + io.done;
  RingIo rw;
  if (io.registered_pages) {
    const auto index = static_cast<unsigned>(io.fixed_buffer);
    const std::uint32_t rest = io.length - io.done;
    rw = io.write ? RingIo::write_registered(0, index, io.done, rest, offset)
                  : RingIo::read_registered(0, index, io.done, rest, offset);
  } else if (const auto rest = io.data.subspan(io.done); io.fixed_buffer >= 0) {
    const auto index = static_cast<unsigned>(io.fixed_buffer);
    rw = io.write ? RingIo::write_fixed(0, rest, offset, index) : RingIo::read_fixed(0, rest, offset, index);
    ++q.fixed_buffer_ios;
  } else {
    rw = io.write ? RingIo::write(0, rest, offset) : RingIo::read(0, rest, offset);
  }
  rw.link = io.fua;
  if (queue.submit(tag, kData, file_io(q, rw))) return finish(queue, q, tag, -EIO);
  io.pending = 1;
  if (!io.fua) return;
  if (queue.submit(tag, kSync, file_io(q, RingIo::fdatasync(0)))) {
    io.error = -EIO;  // the WRITE is on its way: fail the request when it is back
    return;
  }
  io.pending = 2;
}

void LoopTarget::on_io_complete(QueueContext& queue, unsigned tag, std::uint32_t cookie, int result) noexcept {
  QueueState& q = queues_[queue.id()];
  TagIo& io = q.tags[tag];
  if (io.pending) --io.pending;
  if (cookie == kSync) {
    if (result >= 0) ++q.fdatasyncs;
    // -ECANCELED: the linked WRITE came up short or failed; its own CQE says which.
    if (result < 0 && result != -ECANCELED && !io.error) io.error = result;
  } else if (io.length == 0) {  // fallocate
    if (result < 0 && !io.error) io.error = result;
  } else if (result < 0) {
    if (!io.error) io.error = result;
  } else if (result == 0 && !io.write && !io.registered_pages) {
    // End of file: the backing shrank under us; the rest reads as zeroes, as past EOF of a hole.
    std::memset(io.data.data() + io.done, 0, io.length - io.done);
    io.done = io.length;
  } else if (result == 0) {
    // A WRITE that moves nothing; or a READ past the end of a shrunk backing into the request's
    // registered pages, which user space cannot zero.
    if (!io.error) io.error = -EIO;
  } else {
    io.done += static_cast<std::uint32_t>(result);
  }
  if (io.pending) return;
  if (io.error) return finish(queue, q, tag, io.error);
  if (io.done < io.length) return issue_transfer(queue, q, tag);
  finish(queue, q, tag, static_cast<int>(io.length));
}

void LoopTarget::finish(QueueContext& queue, QueueState& q, unsigned tag, int result) noexcept {
  q.tags[tag] = TagIo{};
  queue.completion(tag)(result);
}

}  // namespace ublk
