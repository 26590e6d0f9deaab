#pragma once
#include <string>
#include <string_view>

namespace cli {

// "<binary> <version>": the line every --version prints, the version from pool/version.h.
std::string version_line(std::string_view program);
// The program's name as the user typed it, without its folder.
std::string program_name(const char* argv0, std::string_view fallback);
// "<program>: <message>" on stderr; returns `code`, so that main() can `return fail(...)`.
int fail(std::string_view program, std::string_view message, int code);

}  // namespace cli
