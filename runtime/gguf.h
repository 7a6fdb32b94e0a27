// A reader for GGUF files (llama.cpp's model format, versions 2 and 3): the metadata as JSON
// values and the table of tensors, checked against the file's size so that a truncated
// file is refused up front. The tokenizers read their vocabulary from the metadata
// (tokenizer.ggml.*); weight conversion reads the tensors.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mlcc::gguf {

// Metadata value types (GGUF's numbering).
enum ValueType : uint32_t {
  kU8 = 0,
  kI8,
  kU16,
  kI16,
  kU32,
  kI32,
  kF32,
  kBool,
  kString,
  kArray,
  kU64,
  kI64,
  kF64
};

// ggml tensor types mlcc knows by name (the numbers are ggml's).
enum class TensorType : uint32_t { F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q8_0 = 8, BF16 = 30 };
// "F32", "Q4_K", ... for any ggml type number (or "type N" when unknown).
std::string tensor_type_name(uint32_t type);

struct TensorInfo {
  std::string name;
  std::vector<int64_t> dims;  // ggml order: dims[0] varies fastest (a row of W[out, in] is in)
  uint32_t type = 0;          // a ggml type number (TensorType for the known ones)
  uint64_t offset = 0;        // absolute offset of the data in the file
  uint64_t bytes = 0;         // 0 when the type's block size is unknown to mlcc
  int64_t elements() const;
};

struct File {
  std::string path;
  uint32_t version = 0;
  // Metadata keys to values: integers, floats, bools and strings as JSON scalars, arrays as
  // JSON arrays (tokenizer.ggml.tokens is an array of strings).
  nlohmann::json metadata;
  std::vector<TensorInfo> tensors;
  uint64_t data_offset = 0;  // start of the aligned tensor data section

  const TensorInfo* find(const std::string& name) const;  // nullptr when absent
  // metadata[key], or throws mlcc::Error naming the file and the key.
  const nlohmann::json& at(const std::string& key) const;
};

// Reads the header, metadata and tensor table. Throws mlcc::Error naming the file and what
// is wrong: not GGUF (bad magic), an unsupported version, a truncated header, or a tensor
// whose data would end past the end of the file (naming the tensor).
File read(const std::string& path);

}  // namespace mlcc::gguf
