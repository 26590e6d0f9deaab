#include "uapi.hpp"

#include <gtest/gtest.h>
#include <sys/ioctl.h>

#include <cstring>

namespace ublk::uapi {
namespace {

TEST(Uapi, EncodedIoOpcodesMatchTheKernelMacros) {
  EXPECT_EQ(encoded(IoCmd::kNeedGetData), 0xc0107522u);
  EXPECT_EQ(encoded(IoCmd::kFetchReq), static_cast<std::uint32_t>(_IOWR('u', 0x20, struct ublksrv_io_cmd)));
  EXPECT_EQ(encoded(IoCmd::kCommitAndFetchReq),
            static_cast<std::uint32_t>(_IOWR('u', 0x21, struct ublksrv_io_cmd)));
}

TEST(Uapi, EncodedControlOpcodesUseTheKernelsDirections) {
  EXPECT_EQ(encoded(CtrlCmd::kGetFeatures), static_cast<std::uint32_t>(_IOR('u', 0x13, struct ublksrv_ctrl_cmd)));
  EXPECT_EQ(encoded(CtrlCmd::kGetDevInfo), static_cast<std::uint32_t>(_IOR('u', 0x02, struct ublksrv_ctrl_cmd)));
  EXPECT_EQ(encoded(CtrlCmd::kAddDev), static_cast<std::uint32_t>(_IOWR('u', 0x04, struct ublksrv_ctrl_cmd)));
  EXPECT_EQ(encoded(CtrlCmd::kDelDev), static_cast<std::uint32_t>(_IOWR('u', 0x05, struct ublksrv_ctrl_cmd)));
  EXPECT_EQ(encoded(CtrlCmd::kStartDev), static_cast<std::uint32_t>(_IOWR('u', 0x06, struct ublksrv_ctrl_cmd)));
  EXPECT_EQ(encoded(CtrlCmd::kStopDev), static_cast<std::uint32_t>(_IOWR('u', 0x07, struct ublksrv_ctrl_cmd)));
  EXPECT_EQ(encoded(CtrlCmd::kSetParams), static_cast<std::uint32_t>(_IOWR('u', 0x08, struct ublksrv_ctrl_cmd)));
}

TEST(Uapi, LegacyOpcodesAreThePlainNumbers) {
  EXPECT_EQ(legacy(CtrlCmd::kAddDev), static_cast<std::uint32_t>(UBLK_CMD_ADD_DEV));
  EXPECT_EQ(legacy(CtrlCmd::kGetFeatures), 0x13u);
  EXPECT_EQ(legacy(IoCmd::kFetchReq), static_cast<std::uint32_t>(UBLK_IO_FETCH_REQ));
  EXPECT_EQ(legacy(IoCmd::kNeedGetData), static_cast<std::uint32_t>(UBLK_IO_NEED_GET_DATA));
}

TEST(Uapi, UserCopyOffsetPacksQueueTagAndByte) {
  EXPECT_EQ(user_copy_offset(0, 0), 0x80000000ull);
  EXPECT_EQ(user_copy_offset(0, 1), 0x80000000ull + (1ull << 25));
  EXPECT_EQ(user_copy_offset(1, 0), 0x80000000ull + (1ull << 41));
  EXPECT_EQ(user_copy_offset(3, 5, 4096), 0x80000000ull + (3ull << 41) + (5ull << 25) + 4096);
  // The largest tag and queue stay inside the 53-bit window the kernel decodes.
  EXPECT_LT(user_copy_offset(kMaxQueues - 1, (1u << kTagBits) - 1) - kIoBufOffset, 1ull << (kQidOff + kQidBits));
}

TEST(Uapi, DescriptorArraysArePageRoundedAtTheMaxDepthStride) {
  EXPECT_EQ(desc_array_bytes(1), 4096u);
  EXPECT_EQ(desc_array_bytes(128), 4096u);     // 128 * 24 = 3072
  EXPECT_EQ(desc_array_bytes(256), 8192u);     // 6144
  EXPECT_EQ(desc_array_bytes(4096), 98304u);   // 4096 * 24, already page aligned
  EXPECT_EQ(desc_array_offset(0), 0u);
  EXPECT_EQ(desc_array_offset(2), 2u * 98304u);
}

TEST(Uapi, AutoBufRegPacksTheStructIntoTheSqeAddr) {
  // struct ublk_auto_buf_reg as the uapi lays it out; the kernel reads it back out of the u64.
  struct Layout {
    std::uint16_t index;
    std::uint8_t flags;
    std::uint8_t reserved0;
    std::uint32_t reserved1;
  };
  static_assert(sizeof(Layout) == 8);
  const Layout reg{0x0abc, kAutoBufRegFallback, 0, 0};
  std::uint64_t as_addr = 0;
  std::memcpy(&as_addr, &reg, sizeof as_addr);
  EXPECT_EQ(auto_buf_reg_addr(0x0abc, kAutoBufRegFallback), as_addr);
  EXPECT_EQ(auto_buf_reg_addr(7), 7u);  // no flags: the index alone, reserved bytes zero
  EXPECT_EQ(auto_buf_reg_addr(0xffff) >> 16, 0u);
  EXPECT_EQ(kFeatureAutoBufReg, 1ull << 11);
  EXPECT_EQ(kIoFlagNeedRegBuf, 1u << 17);
}

TEST(Uapi, ResultsAndFlagsMatchTheSystemHeader) {
  EXPECT_EQ(kIoResAbort, UBLK_IO_RES_ABORT);
  EXPECT_EQ(kIoResNeedGetData, UBLK_IO_RES_NEED_GET_DATA);
  EXPECT_EQ(kFeatureNeedGetData, static_cast<std::uint64_t>(UBLK_F_NEED_GET_DATA));
  EXPECT_EQ(kIoBufOffset, static_cast<std::uint64_t>(UBLKSRV_IO_BUF_OFFSET));
}

}  // namespace
}  // namespace ublk::uapi
