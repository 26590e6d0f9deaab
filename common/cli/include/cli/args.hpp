#pragma once
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cli {

// A command line that is wrong; what() is one line without the program name.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// "bad --flag 'text': why", the one wording of a refused value.
std::string bad_value(std::string_view flag, std::string_view text, std::string_view why);

// Walks argv[1..] the same way in every binary: "--opt value" and "--opt=value", a missing value
// reported as such, "--" ends the options. Throws UsageError.
//
//   cli::Args args(argv + 1, argv + argc);
//   while (args.next()) {
//     if (args.is("--depth")) depth = args.value();
//     else if (args.is("--json")) json = args.flag();
//     else args.unknown();
//   }
class Args {
 public:
  explicit Args(std::vector<std::string> args);
  Args(char** begin, char** end);

  // Moves to the next argument; false at the end (or after "--": rest() holds what follows).
  bool next();
  // The current option's name ("--opt" of "--opt=value").
  std::string_view name() const { return name_; }
  bool is(std::string_view name) const { return name_ == name; }
  bool is(std::string_view name, std::string_view alias) const { return name_ == name || name_ == alias; }
  // The option's value: after '=', else the next argument. Throws "--opt needs a value".
  std::string value();
  // For an option without a value: true, or throws "--opt takes no value".
  bool flag();
  // Throws "unknown option '--opt' (see --help)".
  [[noreturn]] void unknown() const;
  // The arguments after "--", or the positional ones when the binary allows them.
  const std::vector<std::string>& rest() const { return rest_; }

 private:
  std::vector<std::string> args_;
  std::size_t next_ = 0;
  std::string arg_;
  std::string name_;
  std::optional<std::string> inline_value_;
  std::vector<std::string> rest_;
};

}  // namespace cli
