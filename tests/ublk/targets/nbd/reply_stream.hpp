#pragma once
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <map>
#include <span>
#include <vector>

#include "nbd/protocol.hpp"
#include "nbd/reply_reader.hpp"

// Reply streams for the reply parser's tests: requests in flight by cookie, and a server's bytes.
namespace ublk::nbd::test {

class Table final : public ReplyLookup {
 public:
  PendingReply& add(std::uint64_t cookie, Command command, std::uint64_t offset, std::vector<std::byte>& buffer) {
    PendingReply& p = map_[cookie];
    p.command = command;
    p.offset = offset;
    p.length = static_cast<std::uint32_t>(buffer.size());
    p.data = buffer;
    return p;
  }
  PendingReply* find(std::uint64_t cookie) noexcept override {
    auto it = map_.find(cookie);
    return it == map_.end() ? nullptr : &it->second;
  }

 private:
  std::map<std::uint64_t, PendingReply> map_;
};

struct Stream {
  std::vector<std::byte> bytes;
  template <class Bytes>
  Stream& add(const Bytes& b) {
    bytes.insert(bytes.end(), std::begin(b), std::end(b));
    return *this;
  }
  Stream& chunk(std::uint16_t flags, ChunkType type, std::uint64_t cookie, std::span<const std::byte> payload) {
    add(encode_chunk_header({flags, type, cookie, static_cast<std::uint32_t>(payload.size())}));
    return add(payload);
  }
};

inline std::vector<std::byte> pattern(std::size_t n, int seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 7 + seed) & 0xff);
  return v;
}

}  // namespace ublk::nbd::test
