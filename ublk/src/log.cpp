#include "ublk/log.hpp"

#include <cstdio>
#include <mutex>
#include <string>

namespace ublk {

namespace {
std::mutex& sink_mutex() {
  static std::mutex mutex;
  return mutex;
}
LogSink& sink() {
  static LogSink current;
  return current;
}
void default_sink(LogLevel level, std::string_view message) {
  if (level < LogLevel::kWarning) return;
  std::fprintf(stderr, "ublk: %s: %.*s\n", std::string(to_string(level)).c_str(), static_cast<int>(message.size()),
               message.data());
}
}  // namespace

std::string_view to_string(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
  }
  return "?";
}

void set_log_sink(LogSink new_sink) {
  std::lock_guard lock(sink_mutex());
  sink() = std::move(new_sink);
}

void log(LogLevel level, std::string_view message) noexcept {
  std::lock_guard lock(sink_mutex());
  try {
    if (sink()) {
      sink()(level, message);
    } else {
      default_sink(level, message);
    }
  } catch (...) {
    // A sink that throws loses its message, never the caller's work.
  }
}

}  // namespace ublk
