#pragma once
// Hand-written programs that reach every operation: the seed corpus, and what the replay test
// runs in every build, so each feature is exercised even before any fuzzing.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace fuzz {

std::vector<std::pair<std::string, std::vector<std::uint8_t>>> seed_programs();

}  // namespace fuzz
