#pragma once
// The node a free buffer holds in its first bytes, for the central intrusive free lists.
#include <boost/intrusive/slist.hpp>
#include <cstddef>
#include <cstdint>

#include "pool/detail/chunk.hpp"

namespace pool::detail {

struct FreeNode {
  boost::intrusive::slist_member_hook<boost::intrusive::link_mode<boost::intrusive::normal_link>> hook;
  // Set while the buffer is free (in a list or a cache), cleared when handed out: a release
  // that finds it set is a double release. A user's data matches it by chance with
  // probability 2^-64, since the key is random per pool.
  std::uintptr_t free_mark = 0;
};

using FreeList = boost::intrusive::slist<
    FreeNode, boost::intrusive::member_hook<FreeNode, decltype(FreeNode::hook), &FreeNode::hook>,
    boost::intrusive::constant_time_size<false>>;

static_assert(offsetof(FreeNode, free_mark) == kFreeMarkOffset, "Cache's inline fast path reads the mark here");

inline FreeNode* node_of(void* buffer) noexcept { return static_cast<FreeNode*>(buffer); }

}  // namespace pool::detail
