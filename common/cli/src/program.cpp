#include "cli/program.hpp"

#include <cstdio>

#include "pool/version.h"

namespace cli {

std::string version_line(std::string_view program) {
  return std::string(program) + " " + UBLKPOOL_VERSION_STRING;
}

std::string program_name(const char* argv0, std::string_view fallback) {
  std::string name = argv0 && *argv0 ? argv0 : std::string(fallback);
  if (const auto slash = name.rfind('/'); slash != std::string::npos) name.erase(0, slash + 1);
  return name;
}

int fail(std::string_view program, std::string_view message, int code) {
  std::fprintf(stderr, "%.*s: %.*s\n", static_cast<int>(program.size()), program.data(),
               static_cast<int>(message.size()), message.data());
  return code;
}

}  // namespace cli
