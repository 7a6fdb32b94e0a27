// A small GGUF (version 3) writer: metadata and, optionally, tensors already encoded. It
// writes the vocabulary-only tokenizer.gguf of a model converted from GGUF (the tokenizer.*
// and general.* metadata, no tensors), and the GGUF files the tests convert.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/gguf.h"

namespace mlcc::convert {

class GgufWriter {
 public:
  // A metadata entry; `type` is the scalar type, or the element type when value is an
  // array. Without a type it is inferred: strings, bools, f32 for numbers with a fraction,
  // u32 for other non-negative integers (u64 beyond), i32 for negative ones (i64 beyond), and
  // the types llama.cpp requires for the tokenizer keys it reads (token_type i32, scores f32).
  void set(const std::string& key, const nlohmann::json& value);
  void set(const std::string& key, const nlohmann::json& value, gguf::ValueType type);
  // A tensor: dims in ggml order (dims[0] varies fastest), a ggml type number, its bytes.
  void add_tensor(const std::string& name, std::vector<int64_t> dims, uint32_t type,
                  std::vector<uint8_t> data);
  // Writes the file; throws mlcc::Error naming it when it cannot.
  void write(const std::string& path) const;

 private:
  struct Entry {
    std::string key;
    nlohmann::json value;
    gguf::ValueType type;
  };
  struct Tensor {
    std::string name;
    std::vector<int64_t> dims;
    uint32_t type;
    std::vector<uint8_t> data;
  };
  std::vector<Entry> entries_;
  std::vector<Tensor> tensors_;
};

}  // namespace mlcc::convert
