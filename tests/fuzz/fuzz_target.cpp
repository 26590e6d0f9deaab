// The libFuzzer entry point: each input is one program for the Interpreter.
#include <cstddef>
#include <cstdint>

#include "interpreter.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Interpreter interpreter;
  interpreter.run(data, size);
  return 0;
}
