#include "report.hpp"

#include <cstdio>
#include <stdexcept>

namespace ublk::cli {

namespace {
using nlohmann::json;

// A histogram as [{"le": label, "count": n, "le_<unit>": bound}, ...], the last bucket unbounded.
template <class Histogram>
json histogram_json(const Histogram& h, const char* bound_key) {
  json buckets = json::array();
  for (unsigned b = 0; b < Histogram::kBuckets; ++b) {
    json bucket = {{"le", Histogram::label(b)}, {"count", h.count(b)}};
    if (b + 1 < Histogram::kBuckets) bucket[bound_key] = Histogram::upper_bound(b);
    buckets.push_back(bucket);
  }
  return buckets;
}

json io_json(const IoStats& io) {
  json sizes = histogram_json(io.sizes, "le_bytes");
  const std::uint64_t timed = io.backend_latency_us.total();
  json backend = {{"requests", timed},
                  {"mean_us", timed ? static_cast<double>(io.backend_latency_ns) / 1e3 / static_cast<double>(timed) : 0.0},
                  {"p50_le_us", timed ? LatencyHistogram::upper_bound(io.backend_latency_us.quantile_bucket(0.5)) : 0},
                  {"p99_le_us", timed ? LatencyHistogram::upper_bound(io.backend_latency_us.quantile_bucket(0.99)) : 0},
                  {"sum_ns", io.backend_latency_ns},
                  {"buckets", histogram_json(io.backend_latency_us, "le_us")}};
  return {{"ios",
           {{"reads", io.reads},
            {"writes", io.writes},
            {"flushes", io.flushes},
            {"discards", io.discards},
            {"other", io.other_ops},
            {"read_bytes", io.read_bytes},
            {"write_bytes", io.write_bytes},
            {"errors", io.errors},
            {"enomem", io.enomem},
            {"get_data", io.get_data}}},
          {"request_sizes", sizes},
          {"backend_latency", backend},
          {"buffers",
           {{"acquires", io.acquires},
            {"acquire_failures", io.acquire_failures},
            {"exhaustion_waits", io.exhaustion_waits},
            {"handed_off", io.handed_off},
            {"handed_back", io.handed_back}}},
          {"copies",
           {{"kernel_bytes", io.kernel_copy_bytes},
            {"userspace_bytes", io.userspace_copy_bytes},
            {"userspace_per_write_byte", io.userspace_copies_per_write_byte()},
            {"userspace_read_bytes", io.userspace_read_copy_bytes},
            {"userspace_per_read_byte", io.userspace_copies_per_read_byte()},
            {"kernel_per_byte", kernel_copies_per_byte(io)}}}};
}

const json& member(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end()) throw std::invalid_argument(std::string("stats JSON: no key '") + key + "'");
  return *it;
}
template <class T>
T get(const json& object, const char* key) {
  const json& value = member(object, key);
  try {
    return value.get<T>();
  } catch (const json::exception&) {
    throw std::invalid_argument(std::string("stats JSON: key '") + key + "' has the wrong type");
  }
}

template <class Histogram>
void read_histogram(const json& buckets, const std::string& name, Histogram& h) {
  if (!buckets.is_array() || buckets.size() != Histogram::kBuckets) {
    throw std::invalid_argument("stats JSON: '" + name + "' is not the " + std::to_string(Histogram::kBuckets) +
                                " buckets of this version");
  }
  for (unsigned b = 0; b < Histogram::kBuckets; ++b) {
    if (get<std::string>(buckets[b], "le") != Histogram::label(b)) {
      throw std::invalid_argument("stats JSON: " + name + " bucket " + std::to_string(b) + " is not <=" +
                                  Histogram::label(b));
    }
    h.add_count(b, get<std::uint64_t>(buckets[b], "count"));
  }
}

IoStats io_from_json(const json& doc) {
  IoStats io;
  const json& ios = member(doc, "ios");
  io.reads = get<std::uint64_t>(ios, "reads");
  io.writes = get<std::uint64_t>(ios, "writes");
  io.flushes = get<std::uint64_t>(ios, "flushes");
  io.discards = get<std::uint64_t>(ios, "discards");
  io.other_ops = get<std::uint64_t>(ios, "other");
  io.read_bytes = get<std::uint64_t>(ios, "read_bytes");
  io.write_bytes = get<std::uint64_t>(ios, "write_bytes");
  io.errors = get<std::uint64_t>(ios, "errors");
  io.enomem = get<std::uint64_t>(ios, "enomem");
  io.get_data = get<std::uint64_t>(ios, "get_data");
  read_histogram(member(doc, "request_sizes"), "request_sizes", io.sizes);
  // Added in schema version 1 after its first release: absent from older reports.
  if (doc.contains("backend_latency")) {
    const json& backend = member(doc, "backend_latency");
    read_histogram(member(backend, "buckets"), "backend_latency.buckets", io.backend_latency_us);
    io.backend_latency_ns = get<std::uint64_t>(backend, "sum_ns");
  }
  const json& buffers = member(doc, "buffers");
  io.acquires = get<std::uint64_t>(buffers, "acquires");
  io.acquire_failures = get<std::uint64_t>(buffers, "acquire_failures");
  io.exhaustion_waits = get<std::uint64_t>(buffers, "exhaustion_waits");
  // Added in schema version 1 after its first release: absent from older reports.
  if (buffers.contains("handed_off")) io.handed_off = get<std::uint64_t>(buffers, "handed_off");
  if (buffers.contains("handed_back")) io.handed_back = get<std::uint64_t>(buffers, "handed_back");
  const json& copies = member(doc, "copies");
  io.kernel_copy_bytes = get<std::uint64_t>(copies, "kernel_bytes");
  io.userspace_copy_bytes = get<std::uint64_t>(copies, "userspace_bytes");
  // Added in schema version 1 after its first release: absent from older reports.
  if (copies.contains("userspace_read_bytes")) {
    io.userspace_read_copy_bytes = get<std::uint64_t>(copies, "userspace_read_bytes");
  }
  return io;
}

std::string_view state_name(SummaryState state) { return state == SummaryState::kLive ? "live" : "final"; }

}  // namespace

double kernel_copies_per_byte(const IoStats& io) noexcept {
  const std::uint64_t bytes = io.read_bytes + io.write_bytes;
  return bytes ? static_cast<double>(io.kernel_copy_bytes) / static_cast<double>(bytes) : 0.0;
}

PoolFigures pool_figures(const std::optional<pool::ProviderStats>& stats) noexcept {
  PoolFigures f;
  if (!stats) return f;
  for (const auto& c : stats->classes) {
    f.hits += c.hits;
    f.misses += c.misses;
    f.buffers_peak += c.peak;
    f.bytes_peak += c.size * c.peak;
  }
  f.bytes_in_use = stats->bytes_in_use;
  f.bytes_limit = stats->bytes_limit;
  return f;
}

std::string report_text(const RunSummary& s) {
  const IoStats& io = s.io;
  const PoolFigures& hm = s.pool;
  char line[512];
  std::string out;
  std::snprintf(line, sizeof line, "%s %s; target %s, mode %s, provider %s%s%s\n", s.device.c_str(),
                s.state == SummaryState::kLive ? "live" : "removed", s.target.c_str(),
                std::string(to_string(s.mode)).c_str(), s.provider.c_str(), s.app_copy ? ", app-copy" : "",
                s.no_data ? ", no-data" : "");
  out += line;
  std::snprintf(line, sizeof line,
                "  ios: %llu reads (%llu B), %llu writes (%llu B), %llu flushes, %llu discards, %llu other; "
                "%llu errors (%llu ENOMEM); %llu NEED_GET_DATA\n",
                (unsigned long long)io.reads, (unsigned long long)io.read_bytes, (unsigned long long)io.writes,
                (unsigned long long)io.write_bytes, (unsigned long long)io.flushes, (unsigned long long)io.discards,
                (unsigned long long)io.other_ops, (unsigned long long)io.errors, (unsigned long long)io.enomem,
                (unsigned long long)io.get_data);
  out += line;
  out += "  request sizes:";
  for (unsigned b = 0; b < SizeHistogram::kBuckets; ++b) {
    if (io.sizes.count(b)) out += " <=" + SizeHistogram::label(b) + ":" + std::to_string(io.sizes.count(b));
  }
  if (io.sizes.total() == 0) out += " none";
  out += "\n";
  if (const std::uint64_t timed = io.backend_latency_us.total()) {
    std::snprintf(line, sizeof line, "  backend latency: %llu requests, mean %.1f us, p50 <= %llu us, p99 <= %llu us\n",
                  (unsigned long long)timed,
                  static_cast<double>(io.backend_latency_ns) / 1e3 / static_cast<double>(timed),
                  (unsigned long long)LatencyHistogram::upper_bound(io.backend_latency_us.quantile_bucket(0.5)),
                  (unsigned long long)LatencyHistogram::upper_bound(io.backend_latency_us.quantile_bucket(0.99)));
    out += line;
  }
  const std::uint64_t peak = hm.bytes_peak;
  std::snprintf(line, sizeof line,
                "  provider %s: %llu acquires, %llu failed; pool hits %llu, misses %llu; %llu IOs waited for a "
                "buffer; %llu B still in use, peak <= %llu B; %llu handed off, %llu still held\n",
                s.provider.c_str(), (unsigned long long)io.acquires, (unsigned long long)io.acquire_failures,
                (unsigned long long)hm.hits, (unsigned long long)hm.misses, (unsigned long long)io.exhaustion_waits,
                (unsigned long long)hm.bytes_in_use,
                (unsigned long long)peak, (unsigned long long)io.handed_off,
                (unsigned long long)io.buffers_held());
  out += line;
  std::snprintf(line, sizeof line,
                "  copies: kernel %llu B (%.3f per byte), userspace %llu B; userspace bytes copied per WRITE "
                "byte: %.3f, per READ byte: %.3f (%llu B)\n",
                (unsigned long long)io.kernel_copy_bytes, kernel_copies_per_byte(io),
                (unsigned long long)io.userspace_copy_bytes, io.userspace_copies_per_write_byte(),
                io.userspace_copies_per_read_byte(), (unsigned long long)io.userspace_read_copy_bytes);
  out += line;
  if (s.mode == Mode::kZeroCopy) {
    std::snprintf(line, sizeof line, "  zero copy: %llu IOs (%llu B) served from the requests' own pages\n",
                  (unsigned long long)io.zero_copy_ios, (unsigned long long)io.zero_copy_bytes);
    out += line;
  }
  if (io.shmem_zc_ios + io.shmem_fallback_ios) {
    std::snprintf(line, sizeof line,
                  "  shared memory: %llu IOs (%llu B) in place with no copy, %llu IOs the %s way (not in it)\n",
                  (unsigned long long)io.shmem_zc_ios, (unsigned long long)io.shmem_zc_bytes,
                  (unsigned long long)io.shmem_fallback_ios, std::string(to_string(s.mode)).c_str());
    out += line;
  }
  for (std::size_t q = 0; q < s.queues.size(); ++q) {
    const IoStats& qs = s.queues[q];
    std::snprintf(line, sizeof line, "  queue %zu: %llu reads (%llu B), %llu writes (%llu B), %llu waits\n", q,
                  (unsigned long long)qs.reads, (unsigned long long)qs.read_bytes, (unsigned long long)qs.writes,
                  (unsigned long long)qs.write_bytes, (unsigned long long)qs.exhaustion_waits);
    out += line;
  }
  if (!s.target_counters.empty()) {
    out += "  target " + s.target + ":";
    for (const auto& [name, value] : s.target_counters) out += " " + name + " " + std::to_string(value);
    out += "\n";
  }
  return out;
}

json report_json_value(const RunSummary& s) {
  const IoStats& io = s.io;
  const PoolFigures& hm = s.pool;
  json j = io_json(io);
  j["schema"] = kStatsSchema;
  j["version"] = kStatsSchemaVersion;
  j["state"] = std::string(state_name(s.state));
  j["device"] = s.device;
  j["target"] = s.target;
  j["mode"] = std::string(to_string(s.mode));
  j["provider"] = s.provider;
  j["app_copy"] = s.app_copy;
  j["no_data"] = s.no_data;
  j["shape"] = {{"id", s.shape.id},
                {"queues", s.shape.queues},
                {"depth", s.shape.depth},
                {"max_io_bytes", s.shape.max_io_bytes},
                {"size_bytes", s.shape.size_bytes},
                {"logical_block", s.shape.logical_block},
                {"pool_steps", s.shape.pool_steps},
                {"pool_limit", s.shape.pool_limit}};
  j["kernel_features"] = s.kernel_features;
  j["granted_flags"] = s.granted_flags;
  j["uptime_s"] = s.uptime_s;
  j["provider_stats"] = {{"acquires", io.acquires},
                         {"acquire_failures", io.acquire_failures},
                         {"exhaustion_waits", io.exhaustion_waits},
                         {"hits", hm.hits},
                         {"misses", hm.misses},
                         {"bytes_in_use", hm.bytes_in_use},
                         {"bytes_peak", hm.bytes_peak},
                         {"buffers_peak", hm.buffers_peak},
                         {"bytes_limit", hm.bytes_limit},
                         {"handed_off", io.buffers_held()}};
  // Only a zero_copy device serves IO from the requests' own pages; in the other modes the key
  // is there, null.
  if (s.mode == Mode::kZeroCopy) {
    j["zero_copy"] = {{"ios", io.zero_copy_ios}, {"bytes", io.zero_copy_bytes}};
  } else {
    j["zero_copy"] = nullptr;
  }
  // UBLK_F_SHMEM_ZC: requests in registered shared memory, and the others (all 0 without it).
  j["shmem_zc"] = {{"ios", io.shmem_zc_ios}, {"bytes", io.shmem_zc_bytes}, {"fallback_ios", io.shmem_fallback_ios}};
  json queues = json::array();
  for (const auto& q : s.queues) queues.push_back(io_json(q));
  j["queues"] = queues;
  if (!s.target_counters.empty()) {
    auto& counters = j["target_stats"] = json::object();
    for (const auto& [name, value] : s.target_counters) counters[name] = value;
  }
  return j;
}

std::string report_json(const RunSummary& s) { return report_json_value(s).dump() + "\n"; }

RunSummary summary_from_json(const json& doc) {
  if (!doc.is_object()) throw std::invalid_argument("stats JSON: not an object");
  if (get<std::string>(doc, "schema") != kStatsSchema) {
    throw std::invalid_argument("stats JSON: schema is not " + std::string(kStatsSchema));
  }
  const int version = get<int>(doc, "version");
  if (version > kStatsSchemaVersion) {
    throw std::invalid_argument("stats JSON: version " + std::to_string(version) + " is newer than this reader's " +
                                std::to_string(kStatsSchemaVersion));
  }
  RunSummary s;
  s.state = get<std::string>(doc, "state") == "live" ? SummaryState::kLive : SummaryState::kFinal;
  s.device = get<std::string>(doc, "device");
  s.target = get<std::string>(doc, "target");
  const auto mode = parse_mode(get<std::string>(doc, "mode"));
  if (!mode) throw std::invalid_argument("stats JSON: unknown mode");
  s.mode = *mode;
  s.provider = get<std::string>(doc, "provider");
  s.app_copy = get<bool>(doc, "app_copy");
  s.no_data = get<bool>(doc, "no_data");
  const json& shape = member(doc, "shape");
  s.shape.id = get<int>(shape, "id");
  s.shape.queues = get<unsigned>(shape, "queues");
  s.shape.depth = get<unsigned>(shape, "depth");
  s.shape.max_io_bytes = get<std::uint32_t>(shape, "max_io_bytes");
  s.shape.size_bytes = get<std::uint64_t>(shape, "size_bytes");
  s.shape.logical_block = get<std::uint32_t>(shape, "logical_block");
  s.shape.pool_steps = get<unsigned>(shape, "pool_steps");
  s.shape.pool_limit = get<std::uint64_t>(shape, "pool_limit");
  s.kernel_features = get<std::uint64_t>(doc, "kernel_features");
  s.granted_flags = get<std::uint64_t>(doc, "granted_flags");
  s.uptime_s = get<double>(doc, "uptime_s");
  s.io = io_from_json(doc);
  if (const auto zc = doc.find("shmem_zc"); zc != doc.end()) {  // added in version 1 after its first release
    s.io.shmem_zc_ios = get<std::uint64_t>(*zc, "ios");
    s.io.shmem_zc_bytes = get<std::uint64_t>(*zc, "bytes");
    s.io.shmem_fallback_ios = get<std::uint64_t>(*zc, "fallback_ios");
  }
  if (const auto zc = doc.find("zero_copy"); zc != doc.end() && zc->is_object()) {
    s.io.zero_copy_ios = get<std::uint64_t>(*zc, "ios");
    s.io.zero_copy_bytes = get<std::uint64_t>(*zc, "bytes");
  }
  for (const auto& q : member(doc, "queues")) s.queues.push_back(io_from_json(q));
  const json& ps = member(doc, "provider_stats");
  s.pool.hits = get<std::uint64_t>(ps, "hits");
  s.pool.misses = get<std::uint64_t>(ps, "misses");
  s.pool.bytes_in_use = get<std::uint64_t>(ps, "bytes_in_use");
  s.pool.bytes_peak = get<std::uint64_t>(ps, "bytes_peak");
  s.pool.buffers_peak = get<std::uint64_t>(ps, "buffers_peak");
  s.pool.bytes_limit = get<std::uint64_t>(ps, "bytes_limit");
  return s;
}

namespace {

class Exposition {
 public:
  explicit Exposition(std::string device) : device_(std::move(device)) {}
  void family(const char* name, const char* type, const char* help) {
    out_ += std::string("# HELP ublkpool_") + name + " " + help + "\n# TYPE ublkpool_" + name + " " + type + "\n";
  }
  void sample(const std::string& name, const std::string& labels, double value) {
    char number[64];
    std::snprintf(number, sizeof number, "%.17g", value);
    out_ += "ublkpool_" + name + "{device=\"" + device_ + "\"" + (labels.empty() ? "" : "," + labels) + "} " +
            number + "\n";
  }
  void sample(const std::string& name, const std::string& labels, std::uint64_t value) {
    out_ += "ublkpool_" + name + "{device=\"" + device_ + "\"" + (labels.empty() ? "" : "," + labels) + "} " +
            std::to_string(value) + "\n";
  }
  // A family with one unlabelled sample.
  template <class Value>
  void single(const char* name, const char* type, const char* help, Value value) {
    family(name, type, help);
    sample(name, "", value);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string device_;
  std::string out_;
};

// Label values: backslash, double quote and newline escaped as the format asks.
std::string label_value(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

std::string report_prometheus(const RunSummary& s) {
  const IoStats& io = s.io;
  const PoolFigures& hm = s.pool;
  Exposition e(label_value(s.device));
  e.family("info", "gauge", "The device's target, buffer mode and provider (value 1).");
  e.sample("info",
           "target=\"" + label_value(s.target) + "\",mode=\"" + std::string(to_string(s.mode)) + "\",provider=\"" +
               label_value(s.provider) + "\"",
           std::uint64_t{1});
  e.single("uptime_seconds", "gauge", "Seconds since the device went live.", s.uptime_s);
  e.family("requests_total", "counter", "Requests served, by operation.");
  const std::pair<const char*, std::uint64_t> ops[] = {{"read", io.reads},        {"write", io.writes},
                                                       {"flush", io.flushes},     {"discard", io.discards},
                                                       {"other", io.other_ops}};
  for (const auto& [op, n] : ops) e.sample("requests_total", std::string("op=\"") + op + "\"", n);
  e.family("bytes_total", "counter", "Bytes read and written by the requests.");
  e.sample("bytes_total", "op=\"read\"", io.read_bytes);
  e.sample("bytes_total", "op=\"write\"", io.write_bytes);
  e.single("errors_total", "counter", "Requests completed with an error.", io.errors);
  e.single("enomem_total", "counter", "Requests failed because the provider had no buffer.", io.enomem);
  e.single("get_data_total", "counter", "NEED_GET_DATA commands issued.", io.get_data);
  e.family("request_size_bytes", "histogram", "Read and write request sizes.");
  std::uint64_t cumulative = 0;
  for (unsigned b = 0; b + 1 < SizeHistogram::kBuckets; ++b) {
    cumulative += io.sizes.count(b);
    e.sample("request_size_bytes_bucket", "le=\"" + std::to_string(SizeHistogram::upper_bound(b)) + "\"", cumulative);
  }
  e.sample("request_size_bytes_bucket", "le=\"+Inf\"", io.sizes.total());
  e.sample("request_size_bytes_sum", "", io.read_bytes + io.write_bytes);
  e.sample("request_size_bytes_count", "", io.sizes.total());
  if (io.backend_latency_us.total()) {
    e.family("backend_latency_seconds", "histogram",
             "Time from the target taking a request to its completion: the backend's own latency.");
    cumulative = 0;
    for (unsigned b = 0; b + 1 < LatencyHistogram::kBuckets; ++b) {
      cumulative += io.backend_latency_us.count(b);
      char le[32];
      std::snprintf(le, sizeof le, "le=\"%g\"", static_cast<double>(LatencyHistogram::upper_bound(b)) / 1e6);
      e.sample("backend_latency_seconds_bucket", le, cumulative);
    }
    e.sample("backend_latency_seconds_bucket", "le=\"+Inf\"", io.backend_latency_us.total());
    e.sample("backend_latency_seconds_sum", "", static_cast<double>(io.backend_latency_ns) / 1e9);
    e.sample("backend_latency_seconds_count", "", io.backend_latency_us.total());
  }
  e.family("copy_bytes_total", "counter", "Request data copied, by who copied it.");
  e.sample("copy_bytes_total", "by=\"kernel\"", io.kernel_copy_bytes);
  e.sample("copy_bytes_total", "by=\"userspace\"", io.userspace_copy_bytes);
  e.sample("copy_bytes_total", "by=\"userspace_read\"", io.userspace_read_copy_bytes);
  e.single("buffer_acquires_total", "counter", "Buffers asked of the provider.", io.acquires);
  e.single("buffer_acquire_failures_total", "counter", "Buffer requests the provider refused.", io.acquire_failures);
  e.single("buffer_waits_total", "counter", "Requests that waited for a buffer to come back.", io.exhaustion_waits);
  e.single("pool_hits_total", "counter", "Pool acquisitions served from its free lists.", hm.hits);
  e.single("pool_misses_total", "counter", "Pool acquisitions that had to refill.", hm.misses);
  e.single("pool_bytes_in_use", "gauge", "Capacity of the provider's buffers out now.", hm.bytes_in_use);
  e.single("pool_bytes_peak", "gauge", "Sum of each size class's peak buffers out times its size.", hm.bytes_peak);
  e.single("pool_bytes_limit", "gauge", "The provider's byte limit, 0 for none.", hm.bytes_limit);
  e.family("shmem_zc_requests_total", "counter",
           "Reads and writes with shared memory registered: in it, served with no copy, or not (fallback).");
  e.sample("shmem_zc_requests_total", "path=\"in_place\"", io.shmem_zc_ios);
  e.sample("shmem_zc_requests_total", "path=\"fallback\"", io.shmem_fallback_ios);
  e.single("handed_off_buffers", "gauge", "Buffers a target holds after completing its request.", io.buffers_held());
  e.single("buffers_handed_off_total", "counter", "Request buffers a target took ownership of.", io.handed_off);
  if (!s.queues.empty()) {
    e.family("queue_requests_total", "counter", "Requests served by one queue, by operation.");
    for (std::size_t q = 0; q < s.queues.size(); ++q) {
      const std::string queue = "queue=\"" + std::to_string(q) + "\",";
      e.sample("queue_requests_total", queue + "op=\"read\"", s.queues[q].reads);
      e.sample("queue_requests_total", queue + "op=\"write\"", s.queues[q].writes);
    }
  }
  return e.take();
}

}  // namespace ublk::cli
