// The GPU devices' caching allocator (caching_allocator.h).
#include "runtime/devices/caching_allocator.h"

#include <fmt/format.h>

#include <utility>

#include "runtime/error.h"

namespace mlcc {

size_t caching_allocator_round_size(size_t bytes) {
  constexpr size_t kMin = 512;
  constexpr size_t kLarge = size_t{1} << 20;
  constexpr size_t kLargeStep = size_t{2} << 20;
  if (bytes <= kMin) return kMin;
  if (bytes >= kLarge) return (bytes + kLargeStep - 1) / kLargeStep * kLargeStep;
  size_t pow2 = size_t{1} << (63 - __builtin_clzll(bytes));
  size_t step = pow2 / 4;
  return (bytes + step - 1) / step * step;
}

CachingAllocator::CachingAllocator(std::string owner, RawAlloc raw_alloc, RawFree raw_free,
                                   OutOfMemory oom)
    : owner_(std::move(owner)),
      raw_alloc_(std::move(raw_alloc)),
      raw_free_(std::move(raw_free)),
      oom_(std::move(oom)) {}

void* CachingAllocator::alloc(size_t bytes) {
  if (bytes > (size_t{1} << 62))
    throw Error(fmt::format("{}: an allocation of {} bytes is beyond any device", owner_, bytes));
  size_t rounded = caching_allocator_round_size(bytes);
  std::lock_guard<std::mutex> lock(mu_);
  void* p = nullptr;
  if (auto it = free_bins_.find(rounded); it != free_bins_.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
    cached_bytes_ -= rounded;
  } else {
    p = raw_alloc_(rounded);
    if (p == nullptr) {
      // Blocks of other sizes may be what fills the device.
      release_cached_locked();
      p = raw_alloc_(rounded);
    }
    if (p == nullptr) {
      oom_(bytes, rounded, allocated_bytes_);
      throw Error(fmt::format("{}: out of memory allocating {} bytes", owner_, bytes));
    }
  }
  live_.emplace(p, rounded);
  allocated_bytes_ += rounded;
  return p;
}

void CachingAllocator::free(void* ptr) {
  if (ptr == nullptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(ptr);
  if (it == live_.end())
    throw Error(fmt::format("cannot free {}: it was not allocated by {} or was already freed",
                            fmt::ptr(ptr), owner_));
  size_t size = it->second;
  live_.erase(it);
  allocated_bytes_ -= size;
  free_bins_[size].push_back(ptr);
  cached_bytes_ += size;
}

void CachingAllocator::release_cached() {
  std::lock_guard<std::mutex> lock(mu_);
  release_cached_locked();
}

void CachingAllocator::release_cached_locked() {
  for (auto& [size, blocks] : free_bins_) {
    while (!blocks.empty()) {
      raw_free_(blocks.back());
      blocks.pop_back();
      cached_bytes_ -= size;
    }
  }
  free_bins_.clear();
}

size_t CachingAllocator::cached_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cached_bytes_;
}

size_t CachingAllocator::allocated_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return allocated_bytes_;
}

void CachingAllocator::drop_all(const std::function<void(void*)>& unchecked_free) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [ptr, size] : live_) unchecked_free(ptr);
  live_.clear();
  for (auto& [size, blocks] : free_bins_)
    for (void* p : blocks) unchecked_free(p);
  free_bins_.clear();
  cached_bytes_ = 0;
  allocated_bytes_ = 0;
}

}  // namespace mlcc
