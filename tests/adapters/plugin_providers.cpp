#include <stdexcept>

#include "adapters/registration.hpp"
#include "provider_contract.hpp"

namespace adapters::testing {

std::shared_ptr<pool::BufferProvider> provider_named(const std::string& name) {
  // Plugins are never unloaded, so one registry for the whole test process.
  static pool::Registry registry;
  static const RegistrationReport report = [] {
    auto r = register_builtin_providers(registry, test_config());
    auto slab = load_provider_plugin(plugin_directory(test_config()) / "libublkpool_example_slab.so",
                                     registry, test_config());
    if (!slab) r.skipped.push_back(slab.message);
    return r;
  }();
  auto provider = registry.find(name);
  if (!provider) {
    std::string why;
    for (const auto& s : report.skipped) why += s + "; ";
    throw std::runtime_error("no provider '" + name + "': " + why);
  }
  return provider;
}

}  // namespace adapters::testing
