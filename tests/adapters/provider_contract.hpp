#pragma once
// The contract every adapter provider keeps, run against each of them (provider_contract_test.cpp).
#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "adapters/provider_config.hpp"
#include "pool/buffer_provider.hpp"

namespace adapters::testing {

inline ProviderConfig test_config() {
  ProviderConfig config;
  config.max_length = std::size_t{1} << 20;
  config.byte_limit = std::size_t{4} << 20;
  return config;
}

struct ProviderCase {
  std::string name;
  std::size_t max_alignment;
  bool thread_bound_cache;  // make_cache() returns a per-thread heap (mimalloc)
};

// gtest prints the case by its name, not as bytes.
inline void PrintTo(const ProviderCase& c, std::ostream* os) { *os << c.name; }

// The provider `name`: built in, or from a plugin loaded once per process (test_config()).
std::shared_ptr<pool::BufferProvider> provider_named(const std::string& name);

}  // namespace adapters::testing
