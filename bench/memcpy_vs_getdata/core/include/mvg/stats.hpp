#pragma once
// Order statistics over a handful of repetitions.

#include <span>

namespace mvg {

// The middle value (the mean of the two middle ones for an even count). Throws std::invalid_argument
// on an empty input.
double median(std::span<const double> values);

}  // namespace mvg
