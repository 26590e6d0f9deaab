#pragma once
#include <functional>
#include <string_view>

namespace ublk {

enum class LogLevel : unsigned char { kDebug, kInfo, kWarning, kError };

std::string_view to_string(LogLevel level) noexcept;

// Where libublk's messages go. The library never prints: it calls the sink, from whichever
// thread noticed (a queue's thread too), so a sink must be thread-safe. The default writes
// warnings and errors to stderr as "ublk: <level>: <message>".
using LogSink = std::function<void(LogLevel level, std::string_view message)>;

// Replaces the sink (an empty function: the default). Call it before starting devices.
void set_log_sink(LogSink sink);

// What the library calls.
void log(LogLevel level, std::string_view message) noexcept;

}  // namespace ublk
