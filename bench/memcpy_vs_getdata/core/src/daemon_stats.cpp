#include "mvg/daemon_stats.hpp"

#include <nlohmann/json.hpp>

namespace mvg {

std::optional<double> copies_per_write_byte(std::string_view daemon_json) {
  auto doc = nlohmann::json::parse(daemon_json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return std::nullopt;
  auto copies = doc.find("copies");
  auto ios = doc.find("ios");
  if (copies == doc.end() || ios == doc.end()) return std::nullopt;
  auto number = [](const nlohmann::json& object, const char* key) -> std::optional<double> {
    auto it = object.find(key);
    if (it == object.end() || !it->is_number()) return std::nullopt;
    return it->get<double>();
  };
  auto kernel = number(*copies, "kernel_bytes");
  auto user = number(*copies, "userspace_bytes");
  auto written = number(*ios, "write_bytes");
  auto read = number(*ios, "read_bytes");
  if (!kernel || !user || !written || *written <= 0) return std::nullopt;
  return (*kernel - read.value_or(0) + *user) / *written;
}

}  // namespace mvg
