// The paged KV cache (DESIGN.md §6): per layer one pool of fixed pages shaped
// (num_pages, 2, kv_heads, page_size, head_dim) in the manifest's dtype, and one sequence
// (batch 1) whose page table, a device i32 array, maps position p to page
// table[p / page_size], slot p % page_size. Pages are handed out as the sequence grows and
// all come back on reset. Serving several sequences later means several page tables over
// the same pools.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "runtime/device.h"
#include "runtime/library.h"

namespace mlcc {

class KVCache {
 public:
  // Allocates the pools and a page table of page_table_entries entries (0: just enough for
  // the context window; more is allowed, fewer is an error) on `dev`, which must outlive
  // the cache.
  KVCache(Device& dev, const KVCacheInfo& info, int64_t context_window,
          int64_t page_table_entries = 0);
  KVCache(const KVCache&) = delete;
  KVCache& operator=(const KVCache&) = delete;

  // Grows the sequence by `tokens` positions: hands out the pages they need, updates the
  // device page table, and returns the new length (the total_seq_len of the step that
  // fills them). Throws mlcc::Error, changing nothing, when the context window or the
  // pool would overflow.
  int64_t append(int64_t tokens);
  // Throws the error append(tokens) would throw for the context window, changing nothing.
  void check_room(int64_t tokens) const;
  // Forgets the sequence: every page goes back to the pool.
  void reset();

  int64_t length() const { return length_; }
  int64_t context_window() const { return context_window_; }
  int64_t pages_in_use() const { return static_cast<int64_t>(owned_.size()); }
  int64_t free_pages() const { return static_cast<int64_t>(free_.size()); }
  const KVCacheInfo& info() const { return info_; }

  // Device pointers for the VM: one pool per layer, and the page table.
  std::span<void* const> layers() const { return layer_ptrs_; }
  void* page_table() const { return page_table_.get(); }
  size_t page_table_bytes() const { return page_table_.bytes(); }
  // The host copy of the page table (unused entries are 0, a valid page, so that a kernel
  // reading past the sequence reads memory that exists).
  const std::vector<int32_t>& host_page_table() const { return table_; }

 private:
  Device& dev_;
  KVCacheInfo info_;
  int64_t context_window_;
  std::vector<DeviceBuffer> pools_;
  std::vector<void*> layer_ptrs_;
  DeviceBuffer page_table_;
  std::vector<int32_t> table_;
  std::vector<int32_t> free_;   // a stack: the next page handed out is free_.back()
  std::vector<int32_t> owned_;  // pages of the sequence, in position order
  int64_t length_ = 0;
};

}  // namespace mlcc
