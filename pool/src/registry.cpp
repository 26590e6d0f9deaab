#include "pool/registry.hpp"

#include <algorithm>

namespace pool {

namespace {
template <class Entries>
auto find_entry(Entries& entries, std::string_view name) {
  return std::find_if(entries.begin(), entries.end(),
                      [&](const auto& e) { return e.first == name; });
}
}  // namespace

bool Registry::add(std::string name, std::shared_ptr<BufferProvider> provider) {
  if (name.empty() || !provider) return false;
  std::lock_guard lock(mutex_);
  if (find_entry(entries_, name) != entries_.end()) return false;
  entries_.emplace_back(std::move(name), std::move(provider));
  return true;
}

bool Registry::remove(std::string_view name) {
  std::lock_guard lock(mutex_);
  auto it = find_entry(entries_, name);
  if (it == entries_.end()) return false;
  entries_.erase(it);
  return true;
}

std::shared_ptr<BufferProvider> Registry::find(std::string_view name) const {
  std::lock_guard lock(mutex_);
  auto it = find_entry(entries_, name);
  return it == entries_.end() ? nullptr : it->second;
}

std::vector<std::string> Registry::names() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& e : entries_) out.push_back(e.first);
  return out;
}

bool Registry::set_default(std::string_view name) {
  std::lock_guard lock(mutex_);
  if (find_entry(entries_, name) == entries_.end()) return false;
  default_name_ = name;
  return true;
}

std::shared_ptr<BufferProvider> Registry::default_provider() const {
  std::lock_guard lock(mutex_);
  auto it = find_entry(entries_, default_name_);
  if (it == entries_.end()) it = find_entry(entries_, "pool");  // the set_default() name was removed
  return it == entries_.end() ? nullptr : it->second;
}

Registry& registry() {
  static Registry instance;
  return instance;
}

}  // namespace pool
