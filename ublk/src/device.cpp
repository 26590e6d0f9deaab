#include "ublk/device.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "block_queue.hpp"
#include "pool/size_class_pool.hpp"
#include "queue.hpp"
#include "shared_memory_table.hpp"
#include "ublk/log.hpp"

namespace ublk {

namespace {
// udev/devtmpfs create the nodes asynchronously; a few seconds is plenty even under TCG.
constexpr auto kNodeTimeout = std::chrono::seconds(10);
constexpr auto kNodePoll = std::chrono::milliseconds(5);
constexpr auto kAbortTimeout = std::chrono::seconds(30);
constexpr auto kSharedIdleTimeout = std::chrono::seconds(30);
}  // namespace

Device::Device(Control& control, DeviceConfig config, pool::BufferProvider& provider, Target& target)
    : control_(control),
      config_(config),
      provider_(provider),
      target_(target),
      group_(std::make_unique<QueueGroup>()),
      shared_(std::make_unique<SharedMemoryTable>()) {}

Device::~Device() { stop(); }

void Device::start() {
  if (config_.mode == Mode::kAuto) throw std::invalid_argument("DeviceConfig::mode: resolve Mode::kAuto with choose_mode() before start()");
  if (config_.mode == Mode::kZeroCopy && !target_.traits().zero_copy) {
    throw std::invalid_argument("DeviceConfig::mode zero_copy: target " + std::string(target_.name()) +
                                " does not serve IO from registered request pages (TargetTraits::zero_copy)");
  }
  // The kernel silently caps the queues at its CPU count; a daemon that believed its own number
  // would map descriptors of queues that do not exist.
  if (const auto cpus = static_cast<unsigned>(::get_nprocs_conf()); config_.queues > cpus) {
    throw std::runtime_error("DeviceConfig::queues " + std::to_string(config_.queues) + " exceeds the " + std::to_string(cpus) +
                             " CPUs (ublk allows one queue per CPU at most)");
  }
  if (config_.wants_shared_memory()) {
    const char* field = config_.shared_memory.empty() ? "DeviceConfig::shared_memory_clients" : "DeviceConfig::shared_memory";
    if (!control_.features().features.has(uapi::kFeatureShmemZc)) {
      throw std::runtime_error(std::string(field) + " needs UBLK_F_SHMEM_ZC (Linux 7.1 or later), which this kernel lacks");
    }
    if (config_.take_over) throw std::invalid_argument(std::string(field) + " with take_over is not supported");
    if (config_.mode == Mode::kZeroCopy) throw std::invalid_argument(std::string(field) + " with Mode::kZeroCopy is not supported");
  }
  config_.take_over ? take_over() : add_and_start();
}

void Device::add_and_start() {
  AddRequest add;
  add.id = config_.id;
  add.queues = config_.queues;
  add.depth = config_.depth;
  add.max_io_bytes = config_.max_io_bytes;
  add.flags = required_feature(config_.mode) | recovery_flags(config_.recovery) |
              (config_.wants_shared_memory() ? uapi::kFeatureShmemZc : 0);
  const DeviceInfo info = control_.add_device(add);
  dev_id_ = info.id;
  added_ = true;
  granted_ = info.flags;
  try {
    if (auto refusal = check_granted(config_.mode, granted_)) throw std::runtime_error(refusal->message);
    if (config_.wants_shared_memory() && !granted_.has(uapi::kFeatureShmemZc)) {
      throw std::runtime_error("ADD_DEV did not grant UBLK_F_SHMEM_ZC (granted " + granted_.to_string() + ")");
    }
    if (recovery_policy_of(granted_) != config_.recovery) {
      throw std::runtime_error("ADD_DEV did not grant recovery policy " + std::string(to_string(config_.recovery)) +
                               " (granted " + granted_.to_string() + ")");
    }
    if (info.queues != config_.queues) {
      throw std::runtime_error("ADD_DEV granted " + std::to_string(info.queues) + " queue(s), not " +
                               std::to_string(config_.queues));
    }
    if (info.max_io_bytes < config_.max_io_bytes) {
      throw std::runtime_error("ADD_DEV lowered the max IO size to " + std::to_string(info.max_io_bytes) +
                               " bytes; set DeviceConfig::max_io_bytes to " +
                               std::to_string(info.max_io_bytes));
    }
    BasicParams params;
    params.logical_block = config_.logical_block;
    params.physical_block = std::max<std::uint32_t>(config_.logical_block, 4096);
    params.io_min = params.physical_block;
    params.max_io_bytes = config_.max_io_bytes;
    params.capacity_bytes = config_.size_bytes;
    const TargetTraits traits = target_.traits();
    if (traits.read_only) params.attrs |= uapi::kAttrReadOnly;
    if (traits.volatile_cache) params.attrs |= uapi::kAttrVolatileCache;
    if (traits.fua) params.attrs |= uapi::kAttrFua;
    params.max_discard_bytes = traits.max_discard_bytes;
    params.max_write_zeroes_bytes = traits.max_write_zeroes_bytes;
    params.discard_granularity = traits.discard_granularity;
    control_.set_params(dev_id_, params);
    register_shared_memory();
    target_.on_device_added(dev_id_);
    start_queues();
    control_.start_device(dev_id_, ::getpid());
    started_ = true;
    wait_for_block_device();
    apply_io_timeout();
  } catch (...) {
    tear_down();
    throw;
  }
}

void Device::take_over() {
  if (config_.id < 0) throw std::invalid_argument("DeviceConfig::take_over needs DeviceConfig::id");
  dev_id_ = static_cast<unsigned>(config_.id);
  const RecoverableDevice dev = inspect_for_recovery(control_, dev_id_);
  if (dev.queues != config_.queues || dev.depth != config_.depth || dev.max_io_bytes != config_.max_io_bytes ||
      dev.mode != config_.mode) {
    throw std::invalid_argument("DeviceConfig (queues, depth, max_io_bytes, mode) does not match device " +
                                std::to_string(dev_id_) + ", which DeviceConfig::take_over would recover");
  }
  granted_ = dev.flags;
  try {
    target_.on_device_added(dev_id_);
    control_.start_user_recovery(dev_id_);
    start_queues();
    control_.end_user_recovery(dev_id_, ::getpid());
  } catch (...) {
    // Not ours yet: closing /dev/ublkcN puts it back to waiting for recovery, nothing is deleted.
    tear_down();
    throw;
  }
  added_ = true;
  started_ = true;
  wait_for_block_device();
  apply_io_timeout();
}

// Not fatal: the device works with the kernel's timeout, only a dead daemon is noticed later.
void Device::apply_io_timeout() const {
  if (config_.io_timeout.count() <= 0) return;
  const std::string disk = "ublkb" + std::to_string(dev_id_);
  if (const std::error_code error =
          set_io_timeout(disk, config_.io_timeout, std::chrono::duration_cast<std::chrono::milliseconds>(kNodeTimeout))) {
    log(LogLevel::kWarning, "DeviceConfig::io_timeout: cannot set /sys/block/" + disk +
                                "/queue/io_timeout: " + error.message() + "; the kernel's default stays");
  }
}

// For a target that asks (TargetTraits::fixed_buffers), the pool's regions become io_uring fixed
// buffers of every queue, so that it can use READ_FIXED/WRITE_FIXED on a request's buffer. Only libpool's own pool says where its memory
// is, and only regions mapped now are registered: a pool without a byte limit maps a few max-IO
// buffers first. (Under a limit that would take memory from the other size classes, whose
// requests would then wait for buffers that never come.)
void Device::register_fixed_buffers() {
  constexpr std::size_t kFixedReserve = 8;
  // zero_copy: the ring's buffer table holds the requests' own pages instead (Queue).
  if (!target_.traits().fixed_buffers || config_.mode == Mode::kZeroCopy) return;
  auto* pool = dynamic_cast<pool::SizeClassPool*>(&provider_);
  if (!pool) return;
  if (pool->config().byte_limit == 0) (void)pool->reserve(config_.max_io_bytes, kFixedReserve);
  fixed_buffers_ = pool->register_fixed_buffers();
  if (!fixed_buffers_.empty()) fixed_pool_ = pool;
}

void Device::register_shared_memory() {
  for (const auto& memory : config_.shared_memory) {
    const unsigned index = control_.register_shared_memory(dev_id_, memory, false);
    if (!shared_->publish(index, memory)) {
      throw std::runtime_error("REG_BUF answered index " + std::to_string(index) + ", beyond the " +
                               std::to_string(shared_->capacity()) + " buffers a device serves");
    }
    if (fixed_shared_.size() <= index) fixed_shared_.resize(index + 1);
    fixed_shared_[index] = memory;
  }
}

unsigned Device::add_shared_memory(std::span<std::byte> memory, bool read_only) {
  if (!started_ || !config_.shared_memory_clients) {
    throw std::logic_error("Device::add_shared_memory needs a started device with DeviceConfig::shared_memory_clients");
  }
  const unsigned index = control_.register_shared_memory(dev_id_, memory, read_only);
  if (!shared_->publish(index, memory)) {
    (void)control_.unregister_shared_memory(dev_id_, index);
    throw std::runtime_error("REG_BUF answered index " + std::to_string(index) + ", beyond the " +
                             std::to_string(shared_->capacity()) + " buffers a device serves");
  }
  return index;
}

std::error_code Device::remove_shared_memory(unsigned index) noexcept {
  // Once the device is gone (DEL_DEV unpinned everything) only our queues can still hold it.
  const std::error_code error = added_ ? control_.unregister_shared_memory(dev_id_, index) : std::error_code{};
  if (error && error != std::errc::no_such_device) {
    log(LogLevel::kWarning, "UNREG_BUF " + std::to_string(index) + " of device " + std::to_string(dev_id_) + ": " +
                                error.message());
  }
  shared_->withdraw(index);
  if (!shared_->wait_idle(index, kSharedIdleTimeout)) return std::make_error_code(std::errc::timed_out);
  return {};
}

void Device::start_queues() {
  open_char_device();
  register_fixed_buffers();
  const bool encoded = granted_.has(uapi::kFeatureCmdIoctlEncode);
  {
    std::lock_guard lock(queues_mutex_);
    for (unsigned q = 0; q < config_.queues; ++q) {
      QueueConfig qc;
      qc.q_id = q;
      qc.depth = config_.depth;
      qc.max_io = config_.max_io_bytes;
      qc.char_fd = char_fd_.get();
      qc.encoded = encoded;
      qc.mode = config_.mode;
      qc.on_exhaustion = config_.on_exhaustion;
      qc.fixed_pool = fixed_pool_;
      qc.fixed_buffers = fixed_buffers_;
      qc.time_backend = target_.traits().time_backend;
      qc.shared_memory = config_.wants_shared_memory() ? shared_.get() : nullptr;
      qc.fixed_shared_memory = fixed_shared_;
      queues_.push_back(std::make_unique<Queue>(qc, provider_, target_, group_.get()));
      group_->add(queues_.back().get());
      homes_.push_back(queues_.back()->home());
    }
  }
  // START_DEV and END_USER_RECOVERY wait until every tag of every queue has a FETCH_REQ
  // outstanding.
  for (auto& queue : queues_) queue->start();
}

void Device::open_char_device() {
  const std::string path = "/dev/ublkc" + std::to_string(dev_id_);
  char_fd_ = open_when_present(path, O_RDWR, kNodeTimeout);
  if (!char_fd_) throw std::system_error(errno, std::generic_category(), "open " + path);
}

void Device::wait_for_block_device() const {
  const std::string path = block_path();
  const auto deadline = std::chrono::steady_clock::now() + kNodeTimeout;
  struct stat st {};
  while (::stat(path.c_str(), &st) != 0) {
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error(path + " did not appear");
    std::this_thread::sleep_for(kNodePoll);
  }
}

bool Device::stopped_elsewhere() const noexcept {
  if (!started_ || queues_.empty()) return false;
  for (const auto& queue : queues_) {
    if (!queue->wait_finished(std::chrono::milliseconds(0)) || !queue->failure().empty()) return false;
  }
  return true;
}

std::optional<std::string> Device::failure() const {
  std::lock_guard lock(queues_mutex_);
  for (const auto& queue : queues_) {
    if (queue->wait_finished(std::chrono::milliseconds(0)) && !queue->failure().empty()) {
      return "queue " + std::to_string(queue->id()) + ": " + queue->failure();
    }
  }
  return std::nullopt;
}

std::error_code Device::stop() noexcept {
  if (!added_) return {};
  std::error_code error;
  if (stopped_elsewhere()) {
    // STOP_DEV came from outside; its DEL_DEV waits for us to close /dev/ublkcN.
    started_ = false;
    deleted_elsewhere_ = true;
  }
  if (started_) {
    // The queues keep serving while STOP_DEV waits for in-flight requests, then every tag's
    // outstanding command completes with UBLK_IO_RES_ABORT and the queue threads end. A
    // target waiting for its backend to come back would hold STOP_DEV until it gave up.
    target_.on_stopping();
    error = control_.stop_device(dev_id_);
    if (error) log(LogLevel::kError, "STOP_DEV " + std::to_string(dev_id_) + ": " + error.message());
    started_ = false;
    if (!error) {
      for (auto& queue : queues_) {
        if (!queue->wait_finished(kAbortTimeout)) {
          log(LogLevel::kWarning, "queue " + std::to_string(queue->id()) +
                                      " did not drain its aborts in time; closing its ring");
        }
      }
    }
  }
  tear_down();
  return error;
}

void Device::tear_down() noexcept {
  // A queue still running here either never saw START_DEV or did not drain in time: closing
  // its ring cancels its outstanding commands.
  for (auto& queue : queues_) queue->request_exit();
  for (auto& queue : queues_) queue->join();
  {
    std::lock_guard lock(queues_mutex_);
    if (!queues_.empty()) {
      kept_.clear();
      for (auto& queue : queues_) kept_.push_back(queue->stats());
    }
    // DEL_DEV waits until nothing holds /dev/ublkcN: neither our fd nor the queues' descriptor
    // mappings (a mapping keeps the file open).
    queues_.clear();
    group_->clear();
  }
  if (fixed_pool_) {
    fixed_pool_->unregister_fixed_buffers();
    fixed_pool_ = nullptr;
    fixed_buffers_.clear();
  }
  char_fd_.reset();
  if (added_) {
    const auto error = control_.delete_device(dev_id_);
    if (error && !(deleted_elsewhere_ && error == std::errc::no_such_device)) {
      log(LogLevel::kError, "DEL_DEV " + std::to_string(dev_id_) + ": " + error.message());
    } else {
      target_.on_device_deleted();
    }
    added_ = false;
  }
}

std::vector<IoStats> Device::queue_stats() const {
  std::lock_guard lock(queues_mutex_);
  std::vector<IoStats> per_queue;
  if (queues_.empty()) {
    per_queue = kept_;
  } else {
    for (const auto& queue : queues_) per_queue.push_back(queue->stats());
  }
  // A buffer a target still holds may come back after its queue is gone: its home counts it.
  for (std::size_t q = 0; q < per_queue.size() && q < homes_.size(); ++q) {
    per_queue[q].handed_back = homes_[q]->handed_back();
  }
  return per_queue;
}

IoStats Device::stats() const {
  IoStats all;
  for (const IoStats& queue : queue_stats()) all.merge(queue);
  return all;
}

}  // namespace ublk
