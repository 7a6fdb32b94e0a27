// The converted weights of a model directory, in MLC-LLM's tensor-cache.json layout: raw
// parameter shards (params_shard_N.bin) and a JSON index naming each tensor's shard, byte
// offset, shape and dtype. convert-weight writes it (tools/convert_weight/); the runtime
// reads it here and copies each tensor to the device one shard at a time.
//
//   {"metadata": {"ParamSize": 291, "ParamBytes": 3.8e9, "BitsPerParam": 4.1},
//    "records": [{"dataPath": "params_shard_0.bin", "format": "raw-shard", "nbytes": 33554432,
//                 "md5sum": "...",
//                 "records": [{"name": "model.embed_tokens.q_weight", "shape": [32000, 512],
//                              "dtype": "uint32", "format": "raw", "nbytes": 65536000,
//                              "byteOffset": 0}, ...]}, ...]}
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mlcc {

class Model;

inline constexpr const char* kTensorCacheFile = "tensor-cache.json";
// Older MLC-LLM releases name the same index ndarray-cache.json; it is read too.
inline constexpr const char* kLegacyTensorCacheFile = "ndarray-cache.json";

// dtype names: tensor-cache.json uses "float16", "float32", "bfloat16", "uint32", "int32";
// library manifests use "f16", "f32", "bf16", "u32", "i32". Throws mlcc::Error for others.
std::string cache_dtype_to_manifest(const std::string& cache_dtype);
std::string manifest_dtype_to_cache(const std::string& manifest_dtype);

struct TensorRecord {
  std::string name;
  std::vector<int64_t> shape;
  std::string dtype;           // as in the file ("float16")
  std::string format = "raw";  // "raw", or "f32-to-bf16" (f32 stored as bf16 bits)
  size_t nbytes = 0;
  size_t byte_offset = 0;  // within the shard
};

struct TensorShard {
  std::string data_path;  // relative to the directory
  size_t nbytes = 0;
  std::string md5sum;  // may be empty
  std::vector<TensorRecord> records;
};

struct TensorCache {
  std::string dir;
  nlohmann::json metadata;
  std::vector<TensorShard> shards;

  // Parses DIR/tensor-cache.json (or ndarray-cache.json). Throws mlcc::Error naming the
  // file and field when it is missing or malformed, when a record lies outside its shard or
  // its nbytes disagree with its shape and dtype, when a tensor name repeats, or when a
  // shard file is missing or shorter than its nbytes.
  static TensorCache read(const std::string& dir);
  // The index as JSON, in the layout read() parses (what convert-weight writes).
  nlohmann::json to_json() const;
  // The record of `name` and its shard, or nullptr.
  const TensorRecord* find(const std::string& name, const TensorShard** shard = nullptr) const;
};

// Copies every parameter the model's library lists from the tensor cache in `dir` to the
// device. Checks before copying anything that each parameter is present with the library's
// shape and dtype; a mismatch is an mlcc::Error naming the directory, the tensor, and both
// shapes or dtypes. progress(bytes_done, bytes_total) is called as shards are read.
void load_params(Model& model, const std::string& dir,
                 const std::function<void(size_t, size_t)>& progress = {});

}  // namespace mlcc
