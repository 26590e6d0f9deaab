#include "cli/args.hpp"

namespace cli {

std::string bad_value(std::string_view flag, std::string_view text, std::string_view why) {
  return "bad " + std::string(flag) + " '" + std::string(text) + "': " + std::string(why);
}

Args::Args(std::vector<std::string> args) : args_(std::move(args)) {}
Args::Args(char** begin, char** end) : args_(begin, end) {}

bool Args::next() {
  if (inline_value_) throw UsageError(name_ + " takes no value");
  if (next_ >= args_.size()) return false;
  arg_ = args_[next_++];
  if (arg_ == "--") {
    rest_.assign(args_.begin() + static_cast<std::ptrdiff_t>(next_), args_.end());
    next_ = args_.size();
    return false;
  }
  name_ = arg_;
  inline_value_.reset();
  if (const auto eq = arg_.find('='); arg_.starts_with("--") && eq != std::string::npos) {
    name_ = arg_.substr(0, eq);
    inline_value_ = arg_.substr(eq + 1);
  }
  return true;
}

std::string Args::value() {
  if (inline_value_) {
    std::string v = std::move(*inline_value_);
    inline_value_.reset();
    return v;
  }
  if (next_ >= args_.size()) throw UsageError(name_ + " needs a value");
  return args_[next_++];
}

bool Args::flag() {
  if (inline_value_) throw UsageError(name_ + " takes no value");
  return true;
}

void Args::unknown() const {
  throw UsageError("unknown option '" + arg_ + "' (see --help)");
}

}  // namespace cli
