#include "queue.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>

#include "pool/size_class_pool.hpp"
#include "zero_copy_cqe.hpp"
#include "zero_copy_strategy.hpp"
#include "ublk/log.hpp"

namespace ublk {

namespace {
// user_data: which kind of CQE (top byte), for which tag (16 bits) and, for a target's IO, the
// target's cookie (low 32 bits).
// kTargetZeroCopy: a target's RingIo::sendmsg_zc, which completes twice.
enum class CqeKind : std::uint64_t {
  kIoCmd = 1,
  kGetData = 2,
  kEventFd = 3,
  kDeadline = 4,
  kTargetIo = 5,
  kTargetZeroCopy = 6
};
constexpr CqeKind target_kind(const RingIo& io) noexcept {
  return io.op == RingIo::Op::kSendmsgZc ? CqeKind::kTargetZeroCopy : CqeKind::kTargetIo;
}
constexpr std::uint64_t user_data(CqeKind kind, unsigned tag = 0, std::uint32_t cookie = 0) noexcept {
  return (static_cast<std::uint64_t>(kind) << 56) | (std::uint64_t{tag & 0xffff} << 32) | cookie;
}
constexpr CqeKind kind_of(std::uint64_t data) noexcept { return static_cast<CqeKind>(data >> 56); }
constexpr unsigned tag_of(std::uint64_t data) noexcept { return static_cast<unsigned>((data >> 32) & 0xffff); }
constexpr std::uint32_t cookie_of(std::uint64_t data) noexcept { return static_cast<std::uint32_t>(data); }
}  // namespace

// ---- buffers coming back from elsewhere ----

void QueueGroup::wake_waiting(const Queue* except) noexcept {
  for (Queue* queue : queues_) {
    if (queue != except && queue->has_waiters()) queue->wake();
  }
}

void HandOffHome::take_back(const pool::Buffer& buffer) noexcept {
  std::lock_guard lock(mutex_);
  handed_back_.fetch_add(1, std::memory_order_relaxed);
  if (queue_) return queue_->take_back(buffer);
  (void)provider_.release(buffer);
}

void HandOffHome::detach() noexcept {
  std::lock_guard lock(mutex_);
  queue_ = nullptr;
}

Queue::Queue(const QueueConfig& config, pool::BufferProvider& provider, Target& target, QueueGroup* group,
             std::unique_ptr<QueueRing> ring)
    : config_(config),
      provider_(provider),
      target_(target),
      group_(group),
      ring_(std::move(ring)),
      parked_(config.depth),
      home_(std::make_shared<HandOffHome>(this, provider)) {
  if (config.depth >= kOwnIo) throw std::invalid_argument("queue depth " + std::to_string(config.depth) + " too large");
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  descs_ = Mapping::map(uapi::desc_array_bytes(config.depth, page), PROT_READ, MAP_SHARED | MAP_POPULATE,
                        config.char_fd, static_cast<off_t>(uapi::desc_array_offset(config.q_id, page)),
                        "of the ublk IO descriptors");
  sink_ = Mapping::anonymous(config.max_io, "sink");
  slots_.resize(config.depth);
  for (unsigned tag = 0; tag < config.depth; ++tag) slots_[tag].tag = tag;
  release_after_submit_.reserve(config.depth);
  local_done_.reserve(config.depth);
  cqes_.reserve(2 * config.depth + 8);
  eventfd_.reset(::eventfd(0, EFD_CLOEXEC));
  if (!eventfd_) throw std::system_error(errno, std::generic_category(), "eventfd");
}

Queue::~Queue() {
  request_exit();
  join();
  home_->detach();
}

void Queue::start() {
  std::promise<void> ready;
  auto started = ready.get_future();
  thread_ = std::thread([this, &ready] { run(&ready); });
  started.get();  // rethrows the thread's setup failure
}

void Queue::request_exit() noexcept {
  exit_requested_.store(true);
  const std::uint64_t one = 1;
  if (eventfd_) [[maybe_unused]] auto n = ::write(eventfd_.get(), &one, sizeof one);
}

void Queue::join() noexcept {
  if (thread_.joinable()) thread_.join();
}

bool Queue::wait_finished(std::chrono::milliseconds timeout) noexcept {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!finished_.load()) {
    if (!thread_.joinable() || std::chrono::steady_clock::now() > deadline) return finished_.load();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

IoStats Queue::stats() const noexcept {
  IoStats copy = stats_;
  copy.handed_back = home_->handed_back();
  return copy;
}

void Queue::run(std::promise<void>* ready) {
  thread_id_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  bool target_started = false;
  try {
    setup();
    target_.on_queue_start(*this);
    target_started = true;
    send_fetches();
    arm_eventfd();
    const int ret = ring_->submit();
    if (ret < 0) throw std::system_error(-ret, std::generic_category(), "submitting FETCH_REQ");
  } catch (...) {
    if (target_started) target_.on_queue_stop(*this);
    ring_.reset();
    release_everything();
    finished_.store(true);
    ready->set_exception(std::current_exception());
    return;
  }
  ready->set_value();
  try {
    loop();
  } catch (const std::exception& e) {
    failure_ = e.what();
  }
  target_.on_queue_stop(*this);
  ring_.reset();  // cancels whatever is still outstanding; after this the kernel holds nothing
  home_->detach();
  release_everything();
  finished_.store(true);
}

void Queue::setup() {
  // The cache, the ring and every command belong to this thread: ublk accepts a queue's IO
  // commands only from the task that fetched them.
  cache_ = provider_.make_cache();
  resources_ = QueueResources{};
  resources_.q_id = config_.q_id;
  resources_.char_fd = config_.char_fd;
  resources_.max_io = config_.max_io;
  resources_.wants_data = target_.wants_data();
  resources_.cache = cache_.get();
  resources_.sink = sink_.bytes();
  resources_.stats = &stats_;
  resources_.returns = this;
  resources_.release_after_submit = &release_after_submit_;
  strategy_ = make_strategy(config_.mode, resources_);
  // Every tag's command, the eventfd read and the deadline, and room for the target's IO.
  if (!ring_) ring_ = make_uring_queue_ring(2 * config_.depth + 8);
  register_fixed_buffers();
}

void Queue::register_fixed_buffers() {
  if (config_.mode == Mode::kZeroCopy) {
    // One slot per tag (ZeroCopyStrategy::buffer_index); without them no request can be served.
    if (const int ret = ring_->register_sparse_buffers(config_.depth); ret < 0) {
      throw std::system_error(-ret, std::generic_category(),
                              "queue " + std::to_string(config_.q_id) + ": io_uring_register_buffers_sparse(" +
                                  std::to_string(config_.depth) + ") for zero_copy");
    }
    return;
  }
  // Shared memory with zero_copy is refused (Device); its slots would go behind the tags'.
  const std::span<const iovec> pool_regions =
      config_.fixed_pool ? config_.fixed_buffers : std::span<const iovec>{};
  const bool shared = target_.traits().fixed_buffers && !config_.fixed_shared_memory.empty();
  FixedBufferTable table(static_cast<unsigned>(pool_regions.size()),
                         shared ? std::span<const std::span<std::byte>>(config_.fixed_shared_memory)
                                : std::span<const std::span<std::byte>>{});
  std::vector<iovec> entries(pool_regions.begin(), pool_regions.end());
  entries.insert(entries.end(), table.shared_entries().begin(), table.shared_entries().end());
  if (entries.empty()) return;
  // Not fatal: the target then does plain READ/WRITE on the same memory.
  if (ring_->register_buffers(entries) != 0) return;
  fixed_registered_ = !pool_regions.empty();
  if (shared) shared_fixed_ = std::move(table);
}

int Queue::fixed_buffer_of(const TagSlot& slot, std::span<std::byte> data) const noexcept {
  if (!slot.shared.empty()) {
    if (!shared_fixed_) return -1;
    const auto fixed = shared_fixed_->shared_slot(uapi::shmem_place(slot.desc.addr).index);
    return fixed ? static_cast<int>(*fixed) : -1;
  }
  if (!fixed_registered_ || data.empty()) return -1;
  const auto ref = config_.fixed_pool->fixed_buffer(data.data());
  return ref ? static_cast<int>(ref->buf_index) : -1;
}

void Queue::send_fetches() {
  for (auto& slot : slots_) {
    send_io_cmd(slot, uapi::IoCmd::kFetchReq, strategy_->fetch_address(slot), 0);
    apply(slot, TagEvent::kFetchSent);
    ++live_tags_;
  }
}

void Queue::loop() {
  // A zero-copy send's pages are the kernel's until its notification: wait for it too (bounded by
  // the device's stop, which asks the queue to exit after kAbortTimeout).
  while ((live_tags_ > 0 || zero_copy_in_flight_ > 0) && !exit_requested_.load(std::memory_order_relaxed)) {
    const int ret = ring_->submit_and_wait(1);
    if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
      throw std::system_error(-ret, std::generic_category(), "io_uring_enter");
    }
    release_submitted();
    cqes_.clear();
    ring_->reap(cqes_);
    for (const Cqe& cqe : cqes_) dispatch(cqe);
    drain_done();
    // A request that waits is tried again only when a buffer came back (or at its deadline);
    // one it then gets may be completed at once and give a buffer back for the next.
    while (!parked_.empty() && (buffer_returned_ || deadline_fired_)) {
      buffer_returned_ = false;
      retry_parked();
      deadline_fired_ = false;
      drain_done();
    }
    target_.on_batch_end(*this);
  }
}

void Queue::dispatch(const Cqe& cqe) {
  switch (kind_of(cqe.user_data)) {
    case CqeKind::kIoCmd: return on_io_cqe(slots_.at(tag_of(cqe.user_data)), cqe.res);
    case CqeKind::kGetData: return on_data_cqe(slots_.at(tag_of(cqe.user_data)), cqe.res);
    case CqeKind::kEventFd: return on_eventfd_cqe(cqe.res);
    case CqeKind::kDeadline:
      deadline_armed_ = false;
      deadline_fired_ = true;
      return;
    case CqeKind::kTargetIo:
      return target_.on_io_complete(*this, tag_of(cqe.user_data), cookie_of(cqe.user_data), cqe.res);
    case CqeKind::kTargetZeroCopy: return on_zero_copy_cqe(cqe);
  }
}

void Queue::on_zero_copy_cqe(const Cqe& cqe) {
  if (deliver_zero_copy_cqe(target_, *this, tag_of(cqe.user_data), cookie_of(cqe.user_data), cqe)) --zero_copy_in_flight_;
}

void Queue::apply(TagSlot& slot, TagEvent event) {
  const auto next = next_state(slot.state, event);
  if (!next) {
    throw std::logic_error("queue " + std::to_string(config_.q_id) + " tag " + std::to_string(slot.tag) + ": " +
                           std::string(to_string(event)) + " in state " + std::string(to_string(slot.state)));
  }
  slot.state = *next;
}

std::uint32_t Queue::opcode(uapi::IoCmd cmd) const noexcept {
  return config_.encoded ? uapi::encoded(cmd) : uapi::legacy(cmd);
}

void Queue::send_io_cmd(TagSlot& slot, uapi::IoCmd cmd, std::uint64_t addr, int result) {
  const auto kind = cmd == uapi::IoCmd::kNeedGetData ? CqeKind::kGetData : CqeKind::kIoCmd;
  ublksrv_io_cmd io{};
  io.q_id = static_cast<__u16>(config_.q_id);
  io.tag = static_cast<__u16>(slot.tag);
  io.result = result;
  io.addr = addr;
  const std::uint64_t sqe_addr = cmd == uapi::IoCmd::kNeedGetData ? 0 : strategy_->sqe_addr(slot);
  if (auto error = ring_->ublk_command(config_.char_fd, opcode(cmd), io, sqe_addr, user_data(kind, slot.tag))) {
    throw std::system_error(error, "queue " + std::to_string(config_.q_id) + ": no SQE for a ublk command");
  }
}

// ---- tag transitions ----

// A FETCH_REQ or COMMIT_AND_FETCH_REQ completed: a request arrived, or a WRITE needs a
// buffer, or the device is going away.
void Queue::on_io_cqe(TagSlot& slot, int res) {
  if (res < 0) return retire(slot, res);
  std::memcpy(&slot.desc, static_cast<const ublksrv_io_desc*>(descs_.get()) + slot.tag, sizeof slot.desc);
  ++slot.generation;
  count_request(slot);
  slot.shared = shared_data(slot);
  const bool in_shared_memory = slot.desc.op_flags & uapi::kIoFlagShmemZc;
  if (in_shared_memory && slot.shared.empty()) slot.pending_error = -EIO;  // pages we did not register
  if (res == uapi::kIoResNeedGetData && in_shared_memory) {
    // The kernel copies nothing for a request in shared memory, yet asks for an address.
    ++stats_.get_data;
    // NEED_GET_DATA comes in get_data mode only, whose FETCH address is its sink.
    return send_need_data(slot, slot.shared.empty() ? strategy_->fetch_address(slot)
                                                    : reinterpret_cast<std::uintptr_t>(slot.shared.data()));
  }
  if (res == uapi::kIoResNeedGetData) {
    const std::uint64_t addr = strategy_->need_data_address(slot, waits_on_exhaustion());
    if (addr == 0) return park(slot, ParkedTags::Step::kNeedData);
    return send_need_data(slot, addr);
  }
  apply(slot, TagEvent::kRequest);
  if (slot.pending_error) return commit(slot, std::exchange(slot.pending_error, 0));
  start_request(slot, waits_on_exhaustion());
}

// NEED_GET_DATA completed: the WRITE data is in the buffer we gave (or in the sink).
void Queue::on_data_cqe(TagSlot& slot, int res) {
  if (res < 0) return retire(slot, res);
  apply(slot, TagEvent::kDataIn);
  if (slot.pending_error) {
    const int error = std::exchange(slot.pending_error, 0);
    return commit(slot, error);
  }
  start_request(slot, waits_on_exhaustion());
}

void Queue::start_request(TagSlot& slot, bool may_wait) {
  std::span<std::byte> data = slot.shared;
  if (const int error = data.empty() ? strategy_->on_request(slot, data) : 0; error < 0) {
    if (error == -ENOMEM && may_wait) return park(slot, ParkedTags::Step::kRequest);
    return commit(slot, error);
  }
  Request request;
  request.op = slot.op();
  request.flags = slot.desc.op_flags & ~0xffU;  // UBLK_IO_F_*, as Request::flags says
  request.offset = slot.desc.start_sector << 9;
  request.length = slot.length();
  request.data = data;
  request.in_shared_memory = !slot.shared.empty();
  if (config_.mode == Mode::kZeroCopy && slot.moves_data()) {
    request.fixed_buffer = ZeroCopyStrategy::buffer_index(slot);
    request.registered_pages = true;
  } else {
    request.fixed_buffer = fixed_buffer_of(slot, data);
  }
  request.queue = config_.q_id;
  request.tag = slot.tag;
  slot.with_target = true;
  if (config_.time_backend) slot.handed_at_ns = monotonic_ns();
  target_.handle(request, Completion(*this, slot.tag, slot.generation));
}

// COMMIT_AND_FETCH_REQ with the result; the tag waits for its next request.
void Queue::commit(TagSlot& slot, int result) {
  slot.with_target = false;
  const std::uint64_t addr =
      slot.shared.empty() ? strategy_->on_done(slot, result) : strategy_->in_place_done_address(slot);
  drop_shared(slot);
  if (result < 0) {
    ++stats_.errors;
    if (result == -ENOMEM) ++stats_.enomem;
  }
  send_io_cmd(slot, uapi::IoCmd::kCommitAndFetchReq, addr, result);
  apply(slot, TagEvent::kCommitted);
}

// The kernel completed the tag's command with UBLK_IO_RES_ABORT (or refused it): it will
// send nothing more for this tag. Its buffer goes back after the ring is closed.
void Queue::retire(TagSlot& slot, int res) {
  if (res != uapi::kIoResAbort) {
    log(LogLevel::kWarning, "queue " + std::to_string(config_.q_id) + " tag " + std::to_string(slot.tag) +
                                ": command failed: " + std::strerror(-res) + " (state " +
                                std::string(to_string(slot.state)) + ")");
  }
  apply(slot, TagEvent::kAborted);
  --live_tags_;
}

std::span<std::byte> Queue::shared_data(TagSlot& slot) noexcept {
  if (config_.shared_memory == nullptr || !slot.moves_data()) return {};
  if (!(slot.desc.op_flags & uapi::kIoFlagShmemZc)) {
    ++stats_.shmem_fallback_ios;
    return {};
  }
  const uapi::ShmemPlace place = uapi::shmem_place(slot.desc.addr);
  const std::span<std::byte> data = config_.shared_memory->acquire(place.index, place.offset, slot.length());
  if (data.empty()) return {};
  slot.shared_index = place.index;
  ++stats_.shmem_zc_ios;
  stats_.shmem_zc_bytes += slot.length();
  return data;
}

void Queue::drop_shared(TagSlot& slot) noexcept {
  if (slot.shared.empty()) return;
  config_.shared_memory->release(slot.shared_index);
  slot.shared = {};
}

std::uint64_t Queue::monotonic_ns() noexcept {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

void Queue::count_backend_time(const TagSlot& slot) noexcept {
  const std::uint64_t now = monotonic_ns();
  const std::uint64_t spent = now > slot.handed_at_ns ? now - slot.handed_at_ns : 0;
  stats_.backend_latency_us.add((spent + 999) / 1000);
  stats_.backend_latency_ns += spent;
}

void Queue::count_request(const TagSlot& slot) {
  switch (slot.op()) {
    case uapi::IoOp::kRead:
      ++stats_.reads;
      stats_.read_bytes += slot.length();
      stats_.sizes.add(slot.length());
      break;
    case uapi::IoOp::kWrite:
      ++stats_.writes;
      stats_.write_bytes += slot.length();
      stats_.sizes.add(slot.length());
      break;
    case uapi::IoOp::kFlush: ++stats_.flushes; break;
    case uapi::IoOp::kDiscard: ++stats_.discards; break;
    default: ++stats_.other_ops; break;
  }
}

void Queue::send_need_data(TagSlot& slot, std::uint64_t addr) {
  send_io_cmd(slot, uapi::IoCmd::kNeedGetData, addr, 0);
  apply(slot, TagEvent::kNeedData);
}

// ---- provider exhaustion under ExhaustionPolicy::kWait ----

// The tag keeps its request (the kernel waits for us) until a buffer comes back: this queue's
// own release, a handed-off buffer dropped on any thread, or another queue's release (both wake
// us through the eventfd). One timer bounds the wait.
void Queue::park(TagSlot& slot, ParkedTags::Step step) {
  if (parked_.park(slot.tag, step)) ++stats_.exhaustion_waits;
  if (!has_waiters_.load(std::memory_order_relaxed)) {
    set_waiting(true);
    // A buffer released elsewhere between our failed acquire and has_waiters_ going up woke no
    // one: try once more now that any later release will.
    buffer_returned_ = true;
  }
  if (!deadline_armed_) arm_deadline();
}

void Queue::set_waiting(bool waiting) noexcept {
  has_waiters_.store(waiting);
  if (group_) waiting ? group_->waiting.fetch_add(1) : group_->waiting.fetch_sub(1);
}

void Queue::retry_parked() {
  const auto now = ParkedTags::Clock::now();
  for (const auto [tag, step] : parked_.take()) {
    TagSlot& slot = slots_.at(tag);
    // A wait past the bound fails the IO as the fail policy would.
    const bool may_wait = !parked_.expired(tag, now);
    if (step == ParkedTags::Step::kNeedData) {
      // Still no buffer: wait on. (Dropping the tag here would leave its WRITE hanging.)
      const std::uint64_t addr = strategy_->need_data_address(slot, may_wait);
      if (addr == 0) {
        park(slot, step);
      } else {
        send_need_data(slot, addr);
      }
    } else {
      start_request(slot, may_wait);
    }
    if (!parked_.is_waiting_last(tag)) parked_.resolved(tag);
  }
  if (parked_.empty()) {
    set_waiting(false);
  } else if (!deadline_armed_) {
    arm_deadline();
  }
}

void Queue::arm_deadline() {
  const auto left = parked_.oldest_deadline() - ParkedTags::Clock::now();
  const auto after = std::max<std::chrono::nanoseconds>(left, std::chrono::milliseconds(1));
  if (auto error = ring_->timeout(after, user_data(CqeKind::kDeadline))) {
    throw std::system_error(error, "queue " + std::to_string(config_.q_id) + ": no SQE for the wait deadline");
  }
  deadline_armed_ = true;
}

// ---- buffers going back ----

void Queue::release_to_provider(const pool::Buffer& buffer) noexcept {
  (void)provider_.release(buffer);
}

void Queue::give_back(const pool::Buffer& buffer) noexcept {
  // Another queue waits: its cache cannot see ours, so the buffer goes to the provider.
  if (group_ && group_->waiting.load() > (has_waiters_.load(std::memory_order_relaxed) ? 1U : 0U)) {
    release_to_provider(buffer);
    group_->wake_waiting(this);
  } else {
    (void)cache_->release(buffer);
  }
  buffer_returned_ = true;
}

void Queue::take_back(const pool::Buffer& buffer) noexcept {
  if (on_queue_thread() && cache_) return give_back(buffer);
  release_to_provider(buffer);
  wake();
  if (group_) group_->wake_waiting(this);
}

void Queue::wake() noexcept {
  if (!has_waiters_.load() || wake_posted_.exchange(true)) return;
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(eventfd_.get(), &one, sizeof one);
}

pool::OwnedBuffer Queue::take_buffer(unsigned tag, std::uint32_t generation) noexcept {
  if (!on_queue_thread() || tag >= slots_.size() || config_.mode == Mode::kCopy) return {};
  TagSlot& slot = slots_[tag];
  // A request in shared memory has its data in the application's pages, not in slot.buffer.
  if (!slot.with_target || slot.generation != generation || slot.op() != uapi::IoOp::kWrite || !slot.buffer ||
      !slot.shared.empty()) {
    return {};
  }
  ++stats_.handed_off;
  return pool::OwnedBuffer(std::exchange(slot.buffer, pool::Buffer{}), home_);
}

// ---- the target's IO on the ring ----

std::error_code Queue::submit(unsigned tag, std::uint32_t cookie, const RingIo& io) noexcept {
  if (!on_queue_thread() || !ring_) return std::make_error_code(std::errc::operation_not_permitted);
  // The constructor keeps every tag below kOwnIo.
  if (tag >= slots_.size()) return std::make_error_code(std::errc::invalid_argument);
  if (auto error = ring_->target_io(io, user_data(target_kind(io), tag, cookie))) return error;
  if (io.op == RingIo::Op::kSendmsgZc) ++zero_copy_in_flight_;
  ++stats_.target_ios;
  return {};
}

std::error_code Queue::submit_own(std::uint32_t cookie, const RingIo& io) noexcept {
  if (!on_queue_thread() || !ring_) return std::make_error_code(std::errc::operation_not_permitted);
  static_assert(kOwnIo == 0xffff, "kOwnIo must fit user_data's 16-bit tag field");
  if (auto error = ring_->target_io(io, user_data(target_kind(io), kOwnIo, cookie))) return error;
  if (io.op == RingIo::Op::kSendmsgZc) ++zero_copy_in_flight_;
  ++stats_.target_ios;
  return {};
}

int Queue::register_files(std::span<const int> fds) noexcept {
  if (!on_queue_thread() || !ring_) return -EPERM;
  return ring_->register_files(fds);
}

Completion Queue::completion(unsigned tag) noexcept {
  return Completion(*this, tag, tag < slots_.size() ? slots_[tag].generation : 0);
}

// ---- completions from the target ----

void Queue::complete(unsigned tag, std::uint32_t generation, int result, std::uint64_t copied) noexcept {
  if (on_queue_thread()) {
    local_done_.push_back({tag, generation, result, copied});
    return;
  }
  {
    std::lock_guard lock(remote_mutex_);
    remote_done_.push_back({tag, generation, result, copied});
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(eventfd_.get(), &one, sizeof one);
}

void Queue::arm_eventfd() {
  if (auto error = ring_->read_eventfd(eventfd_.get(), &eventfd_value_, user_data(CqeKind::kEventFd))) {
    throw std::system_error(error, "queue " + std::to_string(config_.q_id) + ": no SQE for the eventfd");
  }
}

void Queue::on_eventfd_cqe(int res) {
  if (wake_posted_.exchange(false)) buffer_returned_ = true;
  {
    std::lock_guard lock(remote_mutex_);
    local_done_.insert(local_done_.end(), remote_done_.begin(), remote_done_.end());
    remote_done_.clear();
  }
  if (res >= 0 || res == -EINTR) arm_eventfd();
}

void Queue::drain_done() {
  // commit() never calls the target, so completing cannot add to local_done_ while we walk it.
  for (std::size_t i = 0; i < local_done_.size(); ++i) {
    const Done done = local_done_[i];
    if (done.tag >= slots_.size()) {
      ++stats_.double_completions;
      continue;
    }
    TagSlot& slot = slots_[done.tag];
    // A second completion of a request, or a late one of an older request of the tag: counted,
    // never committed (the kernel would take it for the tag's current request).
    if (slot.state != TagState::kInTarget || !slot.with_target || slot.generation != done.generation) {
      ++stats_.double_completions;
      continue;
    }
    if (slot.op() == uapi::IoOp::kWrite) stats_.userspace_copy_bytes += done.copied;
    if (slot.op() == uapi::IoOp::kRead) stats_.userspace_read_copy_bytes += done.copied;
    if (config_.time_backend) count_backend_time(slot);
    commit(slot, done.result);
  }
  local_done_.clear();
}

void Queue::release_submitted() noexcept {
  // A READ commit's buffer: the kernel copied out of it while the submit call handled the
  // commit (see GetDataStrategy). Only if every queued SQE went in.
  if (release_after_submit_.empty() || ring_->pending_sqes() != 0) return;
  for (const auto& buffer : release_after_submit_) give_back(buffer);
  release_after_submit_.clear();
}

void Queue::release_everything() noexcept {
  for (auto& slot : slots_) drop_shared(slot);  // its owner waits for these to unmap the memory
  if (!cache_) return;
  for (const auto& buffer : release_after_submit_) (void)cache_->release(buffer);
  release_after_submit_.clear();
  if (strategy_) {
    for (auto& slot : slots_) strategy_->on_retire(slot);
  }
  cache_.reset();
}

}  // namespace ublk
