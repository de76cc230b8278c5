// The one way crigate swaps what a reload replaces: the latest version of a
// value, read whole by each user and replaced whole by the reloader. A reader
// keeps the version it read for as long as it holds the pointer, so a call
// never mixes an old piece with a new one.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <utility>

namespace crigate::base {

// Where a part reads a reloadable value: one call, one version.
template <typename T>
using Source = std::function<std::shared_ptr<const T>()>;

// A Source that never changes (tests; parts built without a reloader).
template <typename T>
Source<T> FixedSource(std::shared_ptr<const T> value) {
  return [value = std::move(value)] { return value; };
}

template <typename T>
class Latest final {
 public:
  explicit Latest(std::shared_ptr<const T> first) : value_(std::move(first)) {}

  std::shared_ptr<const T> Get() const {
    std::lock_guard lock(mu_);
    return value_;
  }
  void Set(std::shared_ptr<const T> next) {
    std::lock_guard lock(mu_);
    value_.swap(next);
    // The old version is released outside the lock, by its last reader.
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const T> value_;  // guarded by mu_
};

}  // namespace crigate::base
