// MD5 (RFC 1321), for the per-shard "md5sum" of tensor-cache.json that MLC-LLM writes and
// its download tools check. Computed while shards are written, so it costs one pass over
// bytes already in cache.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace mlcc::convert {

class Md5 {
 public:
  Md5();
  void update(const void* data, size_t n);
  std::string hex_digest();  // 32 lowercase hex digits; ends the computation

 private:
  void block(const uint8_t* p);
  uint32_t h_[4];
  uint8_t buf_[64];
  size_t buffered_ = 0;
  uint64_t total_ = 0;
};

}  // namespace mlcc::convert
