// The caching allocator the GPU devices (CUDA, HIP) put in front of their driver's malloc:
// a model allocates and frees the same few sizes again and again (activations, logits,
// uploads), and cuMemAlloc / hipMalloc synchronize and cost tens of microseconds each.
// Freed blocks are kept in bins of rounded size and handed out again; the driver is asked
// only on a miss. On out-of-memory the cache is released and the allocation tried once more.
#pragma once

#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace mlcc {

// The bin a request of `bytes` goes to: below 1 MiB four size classes per power of two (at
// most 25% waste), from 1 MiB up multiples of 2 MiB, so that large weights waste little.
size_t caching_allocator_round_size(size_t bytes);

class CachingAllocator {
 public:
  // Returns a new block of exactly `bytes`, nullptr on out-of-memory; throws on other errors.
  using RawAlloc = std::function<void*(size_t bytes)>;
  // Frees a block RawAlloc returned; throws on errors.
  using RawFree = std::function<void(void* ptr)>;
  // Throws the out-of-memory error for a request of `bytes` (`rounded` after rounding) that
  // failed after the cache was released, with `live_bytes` held in live blocks.
  using OutOfMemory = std::function<void(size_t bytes, size_t rounded, size_t live_bytes)>;

  // `owner` names the device in errors ("CUDA device 0").
  CachingAllocator(std::string owner, RawAlloc raw_alloc, RawFree raw_free, OutOfMemory oom);
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // alloc(0) returns a valid small block. Thread-safe.
  void* alloc(size_t bytes);
  // nullptr is ignored; other pointers must come from alloc() and not be freed yet. Work
  // already queued that uses the block runs before any later use of it only where the
  // device orders all its work on one stream, as the CUDA and HIP devices do.
  void free(void* ptr);
  // Gives every cached (free) block back to the driver.
  void release_cached();
  size_t cached_bytes() const;
  size_t allocated_bytes() const;  // live blocks, rounded sizes

  // Hands every block, live or cached, to `unchecked_free` and forgets them: for the
  // device's destructor, which cannot report errors.
  void drop_all(const std::function<void(void*)>& unchecked_free);

 private:
  void release_cached_locked();

  std::string owner_;
  RawAlloc raw_alloc_;
  RawFree raw_free_;
  OutOfMemory oom_;
  mutable std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_bins_;  // rounded size -> blocks
  std::unordered_map<void*, size_t> live_;                    // block -> rounded size
  size_t cached_bytes_ = 0;
  size_t allocated_bytes_ = 0;
};

}  // namespace mlcc
