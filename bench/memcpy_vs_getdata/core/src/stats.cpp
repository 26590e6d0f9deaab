#include "mvg/stats.hpp"

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace mvg {
namespace {

std::vector<double> sorted(std::span<const double> values) {
  if (values.empty()) throw std::invalid_argument("no values");
  std::vector<double> v(values.begin(), values.end());
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

double median(std::span<const double> values) {
  auto v = sorted(values);
  auto n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace mvg
