#include "pool/stats.hpp"

#include <string>

namespace pool {

namespace {
void append_json_string(std::string& out, const std::string& s) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static constexpr char hex[] = "0123456789abcdef";
          out += "\\u00";
          out += hex[(c >> 4) & 0xf];
          out += hex[c & 0xf];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void append_field(std::string& out, const char* key, std::uint64_t value, bool comma = true) {
  out += '"';
  out += key;
  out += "\":";
  out += std::to_string(value);
  if (comma) out += ',';
}
}  // namespace

std::string ProviderStats::to_json() const {
  std::string out = "{\"provider\":";
  append_json_string(out, provider);
  out += ',';
  append_field(out, "acquire_failures", acquire_failures);
  append_field(out, "bytes_in_use", bytes_in_use);
  append_field(out, "bytes_limit", bytes_limit);
  out += "\"backing\":{";
  append_field(out, "hugetlb_bytes", backing.hugetlb_bytes);
  append_field(out, "thp_bytes", backing.thp_bytes);
  append_field(out, "small_page_bytes", backing.small_page_bytes);
  append_field(out, "shmem_bytes", backing.shmem_bytes);
  append_field(out, "shared_bytes", backing.shared_bytes);
  append_field(out, "other_bytes", backing.other_bytes, false);
  out += "},\"classes\":[";
  for (std::size_t i = 0; i < classes.size(); ++i) {
    const auto& c = classes[i];
    out += i ? ",{" : "{";
    append_field(out, "size", c.size);
    append_field(out, "hits", c.hits);
    append_field(out, "misses", c.misses);
    append_field(out, "in_use", c.in_use);
    append_field(out, "peak", c.peak, false);
    out += '}';
  }
  out += "]}";
  return out;
}

}  // namespace pool
