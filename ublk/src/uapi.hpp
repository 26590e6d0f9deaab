#pragma once
// The ublk kernel ABI. Debian 12's <linux/ublk_cmd.h> is the 6.1 version; everything it lacks is
// defined here from the kernel's uapi (include/uapi/linux/ublk_cmd.h), guarded where the system
// header may already have it. These are facts of the interface, not choices.
#include <linux/ioctl.h>
#include <linux/ublk_cmd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

#include "ublk/request.hpp"

namespace ublk::uapi {

// ---- feature flags (dev_info.flags, GET_FEATURES) ----
inline constexpr std::uint64_t kFeatureZeroCopy = 1ULL << 0;
inline constexpr std::uint64_t kFeatureCompInTask = 1ULL << 1;
inline constexpr std::uint64_t kFeatureNeedGetData = 1ULL << 2;
inline constexpr std::uint64_t kFeatureUserRecovery = 1ULL << 3;
inline constexpr std::uint64_t kFeatureUserRecoveryReissue = 1ULL << 4;
inline constexpr std::uint64_t kFeatureUnprivileged = 1ULL << 5;
inline constexpr std::uint64_t kFeatureCmdIoctlEncode = 1ULL << 6;
inline constexpr std::uint64_t kFeatureUserCopy = 1ULL << 7;
inline constexpr std::uint64_t kFeatureZoned = 1ULL << 8;
inline constexpr std::uint64_t kFeatureUserRecoveryFailIo = 1ULL << 9;
inline constexpr std::uint64_t kFeatureUpdateSize = 1ULL << 10;
inline constexpr std::uint64_t kFeatureAutoBufReg = 1ULL << 11;
inline constexpr std::uint64_t kFeatureQuiesce = 1ULL << 12;
inline constexpr std::uint64_t kFeaturePerIoDaemon = 1ULL << 13;
inline constexpr std::uint64_t kFeatureBufRegOffDaemon = 1ULL << 14;
inline constexpr std::uint64_t kFeatureBatchIo = 1ULL << 15;
inline constexpr std::uint64_t kFeatureIntegrity = 1ULL << 16;
inline constexpr std::uint64_t kFeatureSafeStopDev = 1ULL << 17;
inline constexpr std::uint64_t kFeatureNoAutoPartScan = 1ULL << 18;
inline constexpr std::uint64_t kFeatureShmemZc = 1ULL << 19;
inline constexpr std::uint64_t kFeatureIoDescSize = 1ULL << 20;

// ---- control commands: legacy numbers; the ioctl-encoded form wraps the same nr ----
enum class CtrlCmd : std::uint8_t {
  kGetQueueAffinity = 0x01,
  kGetDevInfo = 0x02,
  kAddDev = 0x04,
  kDelDev = 0x05,
  kStartDev = 0x06,
  kStopDev = 0x07,
  kSetParams = 0x08,
  kGetParams = 0x09,
  kStartUserRecovery = 0x10,
  kEndUserRecovery = 0x11,
  kGetDevInfo2 = 0x12,
  kGetFeatures = 0x13,
  kDelDevAsync = 0x14,
  kUpdateSize = 0x15,
  kQuiesceDev = 0x16,
  kTryStopDev = 0x17,
  kRegBuf = 0x18,    // 7.1+, UBLK_F_SHMEM_ZC
  kUnregBuf = 0x19,
};

enum class IoCmd : std::uint8_t {
  kFetchReq = 0x20,
  kCommitAndFetchReq = 0x21,
  kNeedGetData = 0x22,
  kRegisterIoBuf = 0x23,
  kUnregisterIoBuf = 0x24,
};

// _IOC(dir, 'u', nr, size) computed without the macro so it stays constexpr and testable.
inline constexpr std::uint32_t kIocRead = 2;
inline constexpr std::uint32_t kIocWrite = 1;
constexpr std::uint32_t ioc(std::uint32_t dir, std::uint32_t nr, std::uint32_t size) noexcept {
  return (dir << 30) | (size << 16) | (std::uint32_t{'u'} << 8) | nr;
}

// The kernel declares GET_QUEUE_AFFINITY, GET_DEV_INFO(2), GET_PARAMS, GET_FEATURES and
// DEL_DEV_ASYNC as _IOR; every other control command is _IOWR.
constexpr bool ctrl_is_read_only(CtrlCmd cmd) noexcept {
  switch (cmd) {
    case CtrlCmd::kGetQueueAffinity:
    case CtrlCmd::kGetDevInfo:
    case CtrlCmd::kGetParams:
    case CtrlCmd::kGetDevInfo2:
    case CtrlCmd::kGetFeatures:
    case CtrlCmd::kDelDevAsync:
      return true;
    default:
      return false;
  }
}

constexpr std::uint32_t encoded(CtrlCmd cmd) noexcept {
  const auto dir = ctrl_is_read_only(cmd) ? kIocRead : (kIocRead | kIocWrite);
  return ioc(dir, static_cast<std::uint32_t>(cmd), sizeof(ublksrv_ctrl_cmd));
}
constexpr std::uint32_t legacy(CtrlCmd cmd) noexcept { return static_cast<std::uint32_t>(cmd); }
constexpr std::uint32_t encoded(IoCmd cmd) noexcept {
  return ioc(kIocRead | kIocWrite, static_cast<std::uint32_t>(cmd), sizeof(ublksrv_io_cmd));
}
constexpr std::uint32_t legacy(IoCmd cmd) noexcept { return static_cast<std::uint32_t>(cmd); }

// ---- IO results ----
inline constexpr int kIoResOk = 0;
inline constexpr int kIoResNeedGetData = 1;
inline constexpr int kIoResAbort = -ENODEV;

// ---- IO ops (ublksrv_io_desc.op_flags & 0xff) and flags: public, in ublk/request.hpp ----
using ::ublk::IoOp;
using ::ublk::kIoFlagFua;
// AUTO_BUF_REG with the fallback flag: registration failed, the server must get the data itself.
inline constexpr std::uint32_t kIoFlagNeedRegBuf = 1U << 17;

// ---- SHMEM_ZC: REG_BUF's payload (ctrl_cmd.addr/len); it answers the buffer's index. A request
// whose pages all lie in one registered buffer carries kIoFlagShmemZc, and its descriptor's addr
// is (index << 32 | offset) instead of a server address ----
struct ShmemBufReg {
  std::uint64_t addr = 0;
  std::uint64_t len = 0;
  std::uint32_t flags = 0;
  std::uint32_t reserved = 0;
};
static_assert(sizeof(ShmemBufReg) == 24);
inline constexpr std::uint32_t kShmemBufReadOnly = 1U << 0;
inline constexpr std::uint32_t kIoFlagShmemZc = 1U << 19;
struct ShmemPlace {
  unsigned index = 0;
  std::uint32_t offset = 0;
};
constexpr ShmemPlace shmem_place(std::uint64_t desc_addr) noexcept {
  return {static_cast<unsigned>((desc_addr >> 32) & 0xffff), static_cast<std::uint32_t>(desc_addr)};
}

// ---- AUTO_BUF_REG: struct ublk_auto_buf_reg {u16 index; u8 flags; u8 reserved0; u32 reserved1},
// carried in the SQE's addr of FETCH_REQ and COMMIT_AND_FETCH_REQ, not in ublksrv_io_cmd (the
// reserved bytes must be 0) ----
inline constexpr std::uint8_t kAutoBufRegFallback = 1U << 0;
constexpr std::uint64_t auto_buf_reg_addr(std::uint16_t index, std::uint8_t flags = 0) noexcept {
  return std::uint64_t{index} | (std::uint64_t{flags} << 16);
}

// ---- /dev/ublkcN layout ----
inline constexpr std::uint64_t kCmdBufOffset = 0;           // UBLKSRV_CMD_BUF_OFFSET
inline constexpr std::uint64_t kIoBufOffset = 0x80000000;   // UBLKSRV_IO_BUF_OFFSET
inline constexpr unsigned kIoBufBits = 25;                  // bytes within one IO: 32 MiB
inline constexpr unsigned kTagOff = kIoBufBits;
inline constexpr unsigned kTagBits = 16;
inline constexpr unsigned kQidOff = kTagOff + kTagBits;     // 41
inline constexpr unsigned kQidBits = 12;
inline constexpr unsigned kMaxQueueDepth = 4096;
inline constexpr unsigned kMaxQueues = 1U << kQidBits;
inline constexpr std::size_t kMaxIoBytes = std::size_t{1} << kIoBufBits;

// Where pread/pwrite reach the data of (queue, tag) in user-copy mode.
constexpr std::uint64_t user_copy_offset(unsigned queue, unsigned tag, std::uint64_t byte = 0) noexcept {
  return kIoBufOffset + (std::uint64_t{queue} << kQidOff) + (std::uint64_t{tag} << kTagOff) + byte;
}

// Per-queue IO descriptor array: depth descriptors, rounded up to whole pages; the queues'
// arrays lie at a stride of the largest such array (UBLK_MAX_QUEUE_DEPTH descriptors).
constexpr std::size_t round_up(std::size_t n, std::size_t to) noexcept { return (n + to - 1) / to * to; }
constexpr std::size_t desc_array_bytes(unsigned depth, std::size_t page = 4096) noexcept {
  return round_up(std::size_t{depth} * sizeof(ublksrv_io_desc), page);
}
constexpr std::uint64_t desc_array_offset(unsigned queue, std::size_t page = 4096) noexcept {
  return kCmdBufOffset + std::uint64_t{queue} * desc_array_bytes(kMaxQueueDepth, page);
}

// ---- params ----
inline constexpr std::uint32_t kParamTypeBasic = 1U << 0;
inline constexpr std::uint32_t kParamTypeDiscard = 1U << 1;
inline constexpr std::uint32_t kAttrReadOnly = 1U << 0;
inline constexpr std::uint32_t kAttrVolatileCache = 1U << 2;
inline constexpr std::uint32_t kAttrFua = 1U << 3;

// ---- device states ----
inline constexpr std::uint16_t kStateDead = 0;
inline constexpr std::uint16_t kStateLive = 1;
inline constexpr std::uint16_t kStateQuiesced = 2;
inline constexpr std::uint16_t kStateFailIo = 3;

static_assert(sizeof(ublksrv_ctrl_cmd) == 32);
static_assert(sizeof(ublksrv_io_cmd) == 16);
static_assert(sizeof(ublksrv_io_desc) == 24);
static_assert(sizeof(ublksrv_ctrl_dev_info) == 64);

}  // namespace ublk::uapi
