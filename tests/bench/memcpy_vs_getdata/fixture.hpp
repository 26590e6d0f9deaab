#pragma once
// Reads a captured fio or daemon output from tests/bench/memcpy_vs_getdata/fixtures/.
#include <fstream>
#include <sstream>
#include <string>

namespace mvg::testing {

inline std::string fixture(const std::string& name) {
  std::ifstream in(std::string(MVG_FIXTURES) + "/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace mvg::testing
