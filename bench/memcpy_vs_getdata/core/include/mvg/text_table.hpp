#pragma once
// A Markdown table whose columns line up in a terminal too.

#include <optional>
#include <string>
#include <vector>

namespace mvg {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> headers);
  // Throws std::invalid_argument when the row's width differs from the header's.
  void add_row(std::vector<std::string> cells);
  std::string render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// Latency in usec with as many decimals as make sense for its magnitude; "n/a" when absent.
std::string format_us(std::optional<double> us);
std::string format_ratio(std::optional<double> ratio);

}  // namespace mvg
