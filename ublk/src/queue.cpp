#include "ublk/queue.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>

namespace ublk {

namespace {
// user_data: which kind of CQE, and for which tag.
enum class CqeKind : std::uint64_t { kIoCmd = 1, kGetData = 2, kEventFd = 3, kParkTimer = 4 };
constexpr std::uint64_t user_data(CqeKind kind, unsigned tag = 0) noexcept {
  return (static_cast<std::uint64_t>(kind) << 16) | tag;
}
constexpr CqeKind kind_of(std::uint64_t data) noexcept { return static_cast<CqeKind>(data >> 16); }
constexpr unsigned tag_of(std::uint64_t data) noexcept { return static_cast<unsigned>(data & 0xffff); }
}  // namespace

Queue::Queue(const QueueConfig& config, pool::BufferProvider& provider, Target& target)
    : config_(config), provider_(provider), target_(target), parked_(config.depth) {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  descs_ = Mapping::map(uapi::desc_array_bytes(config.depth, page), PROT_READ, MAP_SHARED | MAP_POPULATE,
                        config.char_fd, static_cast<off_t>(uapi::desc_array_offset(config.q_id, page)),
                        "of the ublk IO descriptors");
  sink_ = Mapping::anonymous(config.max_io, "sink");
  if (config.app_copy) app_buffer_.resize(config.max_io);
  slots_.resize(config.depth);
  for (unsigned tag = 0; tag < config.depth; ++tag) slots_[tag].tag = tag;
  release_after_submit_.reserve(config.depth);
  local_done_.reserve(config.depth);
  eventfd_.reset(::eventfd(0, EFD_CLOEXEC));
  if (!eventfd_) throw std::system_error(errno, std::generic_category(), "eventfd");
}

Queue::~Queue() {
  request_exit();
  join();
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

void Queue::run(std::promise<void>* ready) {
  thread_id_ = std::this_thread::get_id();
  try {
    // The cache, the ring and every command belong to this thread: ublk accepts a queue's IO
    // commands only from the task that fetched them.
    cache_ = provider_.make_cache();
    resources_ = QueueResources{config_.q_id, config_.char_fd, config_.max_io, target_.wants_data(), cache_.get(),
                                sink_.bytes(), &stats_, &release_after_submit_, config_.poison,
                                config_.on_exhaustion == ExhaustionPolicy::kWait};
    strategy_ = make_strategy(config_.mode, resources_);
    ring_ = std::make_unique<Ring>(config_.depth + 3);  // + eventfd read + park timer
    send_fetches();
    arm_eventfd();
    const int ret = ring_->submit();
    if (ret < 0) throw std::system_error(-ret, std::generic_category(), "submitting FETCH_REQ");
  } catch (...) {
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
  ring_.reset();  // cancels whatever is still outstanding; after this the kernel holds nothing
  release_everything();
  finished_.store(true);
}

void Queue::send_fetches() {
  for (auto& slot : slots_) {
    send_io_cmd(slot, uapi::IoCmd::kFetchReq, strategy_->fetch_address(slot), 0);
    apply(slot, TagEvent::kFetchSent);
    ++live_tags_;
  }
}

void Queue::loop() {
  while (live_tags_ > 0 && !exit_requested_.load(std::memory_order_relaxed)) {
    const int ret = ring_->submit_and_wait(1);
    if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
      throw std::system_error(-ret, std::generic_category(), "io_uring_enter");
    }
    release_submitted();
    ring_->for_each_cqe([this](const io_uring_cqe& cqe) {
      switch (kind_of(cqe.user_data)) {
        case CqeKind::kIoCmd: on_io_cqe(slots_.at(tag_of(cqe.user_data)), cqe.res); break;
        case CqeKind::kGetData: on_data_cqe(slots_.at(tag_of(cqe.user_data)), cqe.res); break;
        case CqeKind::kEventFd: on_eventfd_cqe(cqe.res); break;
        case CqeKind::kParkTimer: park_timer_armed_ = false; break;
      }
    });
    drain_done();
    if (!parked_.empty()) {
      retry_parked();
      // A retried request the target completed at once must be committed now: nothing else
      // may wake this loop (the last requests in flight can be exactly these).
      drain_done();
    }
  }
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
  io_uring_sqe* sqe = ring_->uring_cmd(config_.char_fd, opcode(cmd), user_data(kind, slot.tag));
  auto* io = Ring::cmd_area<ublksrv_io_cmd>(sqe);
  io->q_id = static_cast<__u16>(config_.q_id);
  io->tag = static_cast<__u16>(slot.tag);
  io->result = result;
  io->addr = addr;
}

// ---- tag transitions ----

// A FETCH_REQ or COMMIT_AND_FETCH_REQ completed: a request arrived, or a WRITE needs a
// buffer, or the device is going away.
void Queue::on_io_cqe(TagSlot& slot, int res) {
  if (res < 0) return retire(slot, res);
  std::memcpy(&slot.desc, static_cast<const ublksrv_io_desc*>(descs_.get()) + slot.tag, sizeof slot.desc);
  count_request(slot);
  if (res == uapi::kIoResNeedGetData) {
    const std::uint64_t addr = strategy_->need_data_address(slot);
    if (addr == 0) return park(slot, ParkedTags::Step::kNeedData);
    return send_need_data(slot, addr);
  }
  apply(slot, TagEvent::kRequest);
  start_request(slot);
}

// NEED_GET_DATA completed: the WRITE data is in the buffer we gave (or in the sink).
void Queue::on_data_cqe(TagSlot& slot, int res) {
  if (res < 0) return retire(slot, res);
  apply(slot, TagEvent::kDataIn);
  if (slot.pending_error) {
    const int error = std::exchange(slot.pending_error, 0);
    return commit(slot, error);
  }
  start_request(slot);
}

void Queue::start_request(TagSlot& slot) {
  std::span<std::byte> data;
  if (const int error = strategy_->on_request(slot, data); error < 0) {
    if (error == -ENOMEM && resources_.park_on_exhaustion) return park(slot, ParkedTags::Step::kRequest);
    return commit(slot, error);
  }
  if (config_.app_copy && slot.op() == uapi::IoOp::kWrite && !data.empty()) {
    std::memcpy(app_buffer_.data(), data.data(), data.size());
    stats_.userspace_copy_bytes += data.size();
  }
  Request request;
  request.op = slot.op();
  request.flags = slot.desc.op_flags >> 8;
  request.offset = slot.desc.start_sector << 9;
  request.length = slot.length();
  request.data = data;
  request.queue = config_.q_id;
  request.tag = slot.tag;
  target_.handle(request, Completion(&Queue::complete_thunk, this, slot.tag));
}

// COMMIT_AND_FETCH_REQ with the result; the tag waits for its next request.
void Queue::commit(TagSlot& slot, int result) {
  const std::uint64_t addr = strategy_->on_done(slot, result);
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
    std::fprintf(stderr, "ublk: queue %u tag %u: command failed: %s (state %s)\n", config_.q_id, slot.tag,
                 std::strerror(-res), std::string(to_string(slot.state)).c_str());
  }
  apply(slot, TagEvent::kAborted);
  --live_tags_;
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

// The tag keeps its request (the kernel waits for us); it is retried after the next batch of
// completions, which give buffers back, or when the park timer fires.
void Queue::park(TagSlot& slot, ParkedTags::Step step) {
  if (parked_.park(slot.tag, step)) ++stats_.exhaustion_waits;
  if (!park_timer_armed_) arm_park_timer();
}

void Queue::retry_parked() {
  const auto now = ParkedTags::Clock::now();
  for (const auto [tag, step] : parked_.take()) {
    TagSlot& slot = slots_.at(tag);
    // A wait past the bound fails the IO as the fail policy would.
    const bool give_up = parked_.expired(tag, now);
    if (give_up) resources_.park_on_exhaustion = false;
    if (step == ParkedTags::Step::kNeedData) {
      // Still no buffer: wait on. (Dropping the tag here would leave its WRITE hanging.)
      const std::uint64_t addr = strategy_->need_data_address(slot);
      if (addr == 0) {
        park(slot, step);
      } else {
        send_need_data(slot, addr);
      }
    } else {
      start_request(slot);
    }
    resources_.park_on_exhaustion = config_.on_exhaustion == ExhaustionPolicy::kWait;
    if (!parked_.is_waiting_last(tag)) parked_.resolved(tag);
  }
  if (!parked_.empty() && !park_timer_armed_) arm_park_timer();
}

void Queue::arm_park_timer() {
  park_timeout_.tv_sec = 0;
  park_timeout_.tv_nsec = std::chrono::nanoseconds(ParkedTags::kRetryPeriod).count();
  io_uring_sqe* sqe = ring_->sqe();
  io_uring_prep_timeout(sqe, &park_timeout_, 0, 0);
  sqe->user_data = user_data(CqeKind::kParkTimer);
  park_timer_armed_ = true;
}

// ---- completions from the target ----

void Queue::complete(unsigned tag, int result, std::uint64_t copied) noexcept {
  if (std::this_thread::get_id() == thread_id_) {
    local_done_.push_back({tag, result, copied});
    return;
  }
  {
    std::lock_guard lock(remote_mutex_);
    remote_done_.push_back({tag, result, copied});
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(eventfd_.get(), &one, sizeof one);
}

void Queue::arm_eventfd() {
  io_uring_sqe* sqe = ring_->sqe();
  io_uring_prep_read(sqe, eventfd_.get(), &eventfd_value_, sizeof eventfd_value_, 0);
  sqe->user_data = user_data(CqeKind::kEventFd);
  eventfd_armed_ = true;
}

void Queue::on_eventfd_cqe(int res) {
  eventfd_armed_ = false;
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
    TagSlot& slot = slots_.at(done.tag);
    if (slot.op() == uapi::IoOp::kWrite) stats_.userspace_copy_bytes += done.copied;
    commit(slot, done.result);
  }
  local_done_.clear();
}

void Queue::release_submitted() noexcept {
  // A READ commit's buffer: the kernel copied out of it while the submit call handled the
  // commit (see GetDataStrategy). Only if every queued SQE went in.
  if (release_after_submit_.empty() || ring_->pending_sqes() != 0) return;
  for (const auto& buffer : release_after_submit_) give_back(*cache_, buffer, config_.poison);
  release_after_submit_.clear();
}

void Queue::release_everything() noexcept {
  if (!cache_) return;
  for (const auto& buffer : release_after_submit_) give_back(*cache_, buffer, config_.poison);
  release_after_submit_.clear();
  if (strategy_) {
    for (auto& slot : slots_) strategy_->on_retire(slot);
  }
  cache_.reset();
}

}  // namespace ublk
