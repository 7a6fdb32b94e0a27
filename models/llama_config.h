// The configuration of a Llama-family model (Llama 1/2/3, Mistral, TinyLlama, llama2.c's
// tinyllamas), normalized from a Hugging Face config.json or a llama2.c checkpoint header.
// The graph builder (models/llama.h) reads it and the library manifest carries it as JSON.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "passes/legalize/llm_kernels.h"

namespace mlcc::models {

struct LlamaConfig {
  std::string architecture = "llama";  // "llama" or "mistral"
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  double rms_norm_eps = 1e-5;
  bool tie_word_embeddings = false;
  int64_t max_position_embeddings = 0;
  kernels::RopeSpec rope;  // rope.head_dim == head_dim
  // Mistral's sliding attention window; compile checks it against the context window
  // (a window at least as long as the context is plain causal attention).
  std::optional<int64_t> sliding_window;

  // Throws mlcc::Error naming `source` and the field when the sizes are inconsistent
  // (non-positive sizes, heads not a multiple of kv heads, odd head_dim, ...).
  void validate(const std::string& source) const;

  // The normalized form, every field present; from_json is strict (all fields, their
  // JSON types) and names `source` and the field in its errors.
  nlohmann::json to_json() const;
  static LlamaConfig from_json(const nlohmann::json& j, const std::string& source = "manifest");
  bool operator==(const LlamaConfig& o) const;
};

// A Hugging Face config.json (already parsed); `source` names it in errors.
LlamaConfig parse_hf_config(const nlohmann::json& j, const std::string& source);
LlamaConfig read_hf_config(const std::string& path);

// A llama2.c checkpoint header: the legacy 7 x int32 header (a negative vocab_size means an
// unshared classifier) or the "ak42" header of versions 1 and 2 (magic 0x616b3432, version,
// the 7 ints, a shared-classifier byte, padded to 256 bytes). llama2.c rotates interleaved
// pairs (2j, 2j+1); the config is in Hugging Face's rotate_half convention, so converting
// its weights permutes each head's wq/wk rows (2j + t -> t * head_dim/2 + j), as
// tools/convert_weight/llama2c_source.cc does.
struct Llama2cHeader {
  LlamaConfig config;
  int version = 0;           // 0 legacy, 1 fp32, 2 int8 (Q8_0)
  int64_t header_bytes = 0;  // where the weights start: 28 (legacy) or 256
};
Llama2cHeader parse_llama2c_header(const void* data, size_t size, const std::string& source);
// The file version also checks an fp32 checkpoint's size against what the header implies.
Llama2cHeader read_llama2c_header(const std::string& path);

// A config.json, a directory holding one, or a llama2.c checkpoint: picked by content
// (a JSON object starts with '{', anything else is read as a llama2.c header).
LlamaConfig load_config(const std::string& path);

}  // namespace mlcc::models
