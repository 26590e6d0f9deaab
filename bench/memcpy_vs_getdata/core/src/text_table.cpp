#include "mvg/text_table.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace mvg {

TextTable::TextTable(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void TextTable::add_row(std::vector<std::string> cells) {
  if (cells.size() != headers_.size()) throw std::invalid_argument("row width differs from header");
  rows_.push_back(std::move(cells));
}

std::string TextTable::render() const {
  std::vector<std::size_t> width(headers_.size(), 3);
  auto widen = [&width](const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < cells.size(); ++i) width[i] = std::max(width[i], cells[i].size());
  };
  widen(headers_);
  for (const auto& row : rows_) widen(row);

  auto line = [&width](const std::vector<std::string>& cells) {
    std::string out = "|";
    for (std::size_t i = 0; i < cells.size(); ++i) {
      out += " " + cells[i] + std::string(width[i] - cells[i].size(), ' ') + " |";
    }
    return out + "\n";
  };
  std::string out = line(headers_);
  std::vector<std::string> rule;
  for (auto w : width) rule.push_back(std::string(w, '-'));
  out += line(rule);
  for (const auto& row : rows_) out += line(row);
  return out;
}

std::string format_us(std::optional<double> us) {
  if (!us) return "n/a";
  int decimals = *us < 100 ? 2 : *us < 10000 ? 1 : 0;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, *us);
  return buf;
}

std::string format_ratio(std::optional<double> ratio) {
  if (!ratio) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", *ratio);
  return buf;
}

}  // namespace mvg
