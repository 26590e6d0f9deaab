#include "adapters/registration.hpp"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory_resource>

#include "adapters/boost_pool_provider.hpp"
#include "adapters/pmr_provider.hpp"

namespace adapters {

namespace {
struct PluginProvider {
  const char* name;
  const char* library;
};
constexpr PluginProvider kPluginProviders[] = {
    {"jemalloc", "libublkpool_jemalloc.so"},
    {"mimalloc", "libublkpool_mimalloc.so"},
};

std::filesystem::path executable_directory() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path{} : exe.parent_path();
}

void add(pool::Registry& registry, RegistrationReport& report, const std::string& name,
         std::shared_ptr<pool::BufferProvider> provider) {
  if (registry.add(name, std::move(provider)))
    report.registered.push_back(name);
  else
    report.skipped.push_back(name + ": the name is already registered");
}
}  // namespace

std::vector<std::string> builtin_provider_names() {
  std::vector<std::string> names{"pmr", "pmr_pool", "boost_pool"};
  for (const auto& p : kPluginProviders) names.emplace_back(p.name);
  return names;
}

std::filesystem::path plugin_directory(const ProviderConfig& config) {
  if (!config.plugin_dir.empty()) return config.plugin_dir;
  if (const char* dir = std::getenv("UBLKPOOL_PLUGIN_DIR"); dir && *dir) return dir;
  // Installed: <prefix>/bin and <prefix>/lib/ublkpool (cmake/install.cmake); a build tree: <build>/lib.
  const auto lib = executable_directory() / ".." / "lib";
  std::error_code ec;
  if (std::filesystem::is_directory(lib / "ublkpool", ec)) return lib / "ublkpool";
  return lib;
}

RegistrationReport register_builtin_providers(pool::Registry& registry, const ProviderConfig& config) {
  RegistrationReport report;
  try {
    add(registry, report, "pmr",
        std::make_shared<PmrProvider>("pmr", std::pmr::new_delete_resource(), config));
    add(registry, report, "pmr_pool",
        std::make_shared<PmrProvider>(
            "pmr_pool",
            std::make_unique<std::pmr::synchronized_pool_resource>(
                std::pmr::pool_options{0, config.max_length}, std::pmr::new_delete_resource()),
            config));
    add(registry, report, "boost_pool", std::make_shared<BoostPoolProvider>("boost_pool", config));
  } catch (const std::exception& e) {
    report.skipped.push_back(std::string("built-in providers: ") + e.what());
  }
  const auto dir = plugin_directory(config);
  for (const auto& p : kPluginProviders) {
    if (registry.find(p.name)) {
      report.skipped.push_back(std::string(p.name) + ": the name is already registered");
      continue;
    }
    auto loaded = load_provider_plugin(dir / p.library, registry, config);
    if (!loaded)
      report.skipped.push_back(std::string(p.name) + ": " + loaded.message);
    else
      report.registered.insert(report.registered.end(), loaded.providers.begin(), loaded.providers.end());
  }
  return report;
}

ProviderLookup find_provider(const pool::Registry& registry, std::string_view name) {
  ProviderLookup lookup;
  lookup.provider = registry.find(name);
  if (lookup.provider) return lookup;
  std::string known;
  for (const auto& n : registry.names()) known += (known.empty() ? "" : ", ") + n;
  lookup.message = "unknown provider '" + std::string(name) + "' (registered: " +
                   (known.empty() ? std::string("none") : known) + ")";
  return lookup;
}

void ensure_static_tls_for_plugins(char** argv) noexcept {
  const char* current = std::getenv("GLIBC_TUNABLES");
  if (current && std::strstr(current, "glibc.rtld.optional_static_tls")) return;
  std::string value = current && *current ? std::string(current) + ":" : std::string();
  value += kStaticTlsTunable;
  if (setenv("GLIBC_TUNABLES", value.c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);
  // exec failed: carry on; the jemalloc plugin will say why it cannot load.
}

}  // namespace adapters
