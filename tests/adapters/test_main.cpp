#include <gtest/gtest.h>

#include "adapters/registration.hpp"

// The jemalloc plugin needs glibc's static TLS reserve: the same first line as the daemons'.
int main(int argc, char** argv) {
  adapters::ensure_static_tls_for_plugins(argv);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
