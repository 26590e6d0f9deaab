#pragma once
// Durations and dates as people read them.

#include <chrono>
#include <string>

namespace mvg {

// "45s", "3m07s", "1h02m".
std::string format_duration(std::chrono::steady_clock::duration d);
// Now, ISO 8601 in UTC: "2026-11-25T10:07:52Z".
std::string utc_now();

}  // namespace mvg
