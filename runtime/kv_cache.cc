// Page handout and the device page table of the paged KV cache.
#include "runtime/kv_cache.h"

#include <algorithm>

#include "runtime/error.h"

namespace mlcc {

KVCache::KVCache(Device& dev, const KVCacheInfo& info, int64_t context_window,
                 int64_t page_table_entries)
    : dev_(dev), info_(info), context_window_(context_window) {
  int64_t needed = (context_window + info.page_size - 1) / info.page_size;
  if (page_table_entries == 0) page_table_entries = needed;
  if (page_table_entries < needed)
    throw Error("KV cache: a page table of " + std::to_string(page_table_entries) +
                " entries cannot hold a context window of " + std::to_string(context_window) +
                " tokens in pages of " + std::to_string(info.page_size) + "; it needs " +
                std::to_string(needed));
  if (info.num_pages > INT32_MAX)
    throw Error("KV cache: num_pages does not fit the i32 page table");
  size_t bytes = info.layer_bytes();
  for (int64_t l = 0; l < info.num_layers; ++l) {
    pools_.emplace_back(dev, bytes);
    layer_ptrs_.push_back(pools_.back().get());
  }
  table_.assign(static_cast<size_t>(page_table_entries), 0);
  page_table_ = DeviceBuffer(dev, table_.size() * sizeof(int32_t));
  reset();
}

void KVCache::check_room(int64_t tokens) const {
  if (tokens < 0) throw Error("KV cache: cannot append " + std::to_string(tokens) + " tokens");
  if (length_ + tokens > context_window_)
    throw Error((length_ == context_window_ ? std::string("the context window is full: ")
                                            : "the context window cannot take " +
                                                  std::to_string(tokens) + " more tokens: ") +
                std::to_string(length_) + " tokens are in the KV cache and " +
                std::to_string(tokens) + " more would exceed the model's context window of " +
                std::to_string(context_window_) + " tokens" +
                (length_ == 0 ? "; shorten the input" : "; call reset() to start a new sequence"));
}

int64_t KVCache::append(int64_t tokens) {
  check_room(tokens);
  int64_t new_length = length_ + tokens;
  size_t pages = static_cast<size_t>((new_length + info_.page_size - 1) / info_.page_size);
  if (pages - owned_.size() > free_.size())
    throw Error("KV cache: out of pages: the sequence needs " + std::to_string(pages) +
                " pages of " + std::to_string(info_.page_size) + " tokens and " +
                std::to_string(free_.size()) + " of " + std::to_string(info_.num_pages) +
                " are free");
  size_t first_new = owned_.size();
  while (owned_.size() < pages) {
    owned_.push_back(free_.back());
    free_.pop_back();
    table_[owned_.size() - 1] = owned_.back();
  }
  if (pages > first_new)
    dev_.copy_to_device(static_cast<int32_t*>(page_table_.get()) + first_new,
                        table_.data() + first_new, (pages - first_new) * sizeof(int32_t));
  length_ = new_length;
  return length_;
}

void KVCache::reset() {
  owned_.clear();
  free_.clear();
  // Reversed, so that a fresh cache hands out pages 0, 1, 2, ... in order.
  for (int64_t p = info_.num_pages - 1; p >= 0; --p) free_.push_back(static_cast<int32_t>(p));
  std::fill(table_.begin(), table_.end(), 0);
  dev_.copy_to_device(page_table_.get(), table_.data(), table_.size() * sizeof(int32_t));
  length_ = 0;
}

}  // namespace mlcc
