#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "pool/buffer_provider.hpp"

namespace pool {

// A thread-safe, process-wide table of named providers. The name "pool" is, by convention,
// libpool's own SizeClassPool, and the default unless another default is set.
class Registry {
 public:
  // Fails (returns false) if the name is empty or already taken.
  bool add(std::string name, std::shared_ptr<BufferProvider> provider);
  bool remove(std::string_view name);
  [[nodiscard]] std::shared_ptr<BufferProvider> find(std::string_view name) const;
  [[nodiscard]] std::vector<std::string> names() const;

  // The default provider: the one named by set_default(), else "pool", else null.
  bool set_default(std::string_view name);
  [[nodiscard]] std::shared_ptr<BufferProvider> default_provider() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::pair<std::string, std::shared_ptr<BufferProvider>>> entries_;
  std::string default_name_ = "pool";
};

Registry& registry();

}  // namespace pool
