// Writes a model directory's weights in MLC-LLM's tensor-cache.json layout
// (runtime/tensor_cache.h): tensors streamed one after another into params_shard_N.bin
// files of at most ~32 MB (a larger tensor gets a shard of its own, as MLC-LLM does), each
// tensor starting on an aligned offset, with each shard's md5sum.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "runtime/tensor_cache.h"
#include "tools/convert_weight/md5.h"

namespace mlcc::convert {

class TensorCacheWriter {
 public:
  static constexpr size_t kShardCap = size_t{32} << 20;  // MLC-LLM's shard_cap_mb = 32
  static constexpr size_t kAlign = 64;

  explicit TensorCacheWriter(std::string dir, size_t shard_cap = kShardCap);
  ~TensorCacheWriter();
  TensorCacheWriter(const TensorCacheWriter&) = delete;
  TensorCacheWriter& operator=(const TensorCacheWriter&) = delete;

  // Starts a tensor of `nbytes` bytes (dtype a manifest name: "f16", "u32"); its bytes
  // follow through write() calls, then end() checks that all of them came.
  void begin(const std::string& name, const std::vector<int64_t>& shape, const std::string& dtype,
             size_t nbytes);
  void write(const void* data, size_t n);
  void end();
  // Closes the last shard and writes tensor-cache.json with `metadata`.
  void finish(const nlohmann::json& metadata);

  const TensorCache& cache() const { return cache_; }
  size_t bytes_written() const { return total_; }

 private:
  void open_shard();
  void close_shard();
  void put(const void* data, size_t n);

  std::string dir_;
  size_t cap_;
  TensorCache cache_;
  std::FILE* file_ = nullptr;
  Md5 md5_;
  size_t shard_bytes_ = 0;  // of the open shard
  size_t pending_ = 0;      // bytes the current tensor still owes
  size_t total_ = 0;        // tensor bytes, without padding
};

}  // namespace mlcc::convert
