// A plain Llama forward pass for tests: double arithmetic, no caching tricks beyond a list
// of past keys and values, Hugging Face's conventions (rotate_half RoPE, GQA, tied
// embeddings). Compiled models are checked against it; it is checked against llama2.c's
// own greedy output for stories260K. Weights use MLC-LLM's names and fused projections
// (models/llama.h); q4 tests pass it the dequantized weights.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "models/llama_config.h"

namespace mlcc::testing {

using Weights = std::map<std::string, std::vector<float>>;

// inv_freq[i] for i < head_dim / 2, llama3 scaling applied as transformers'
// _compute_llama3_parameters does.
std::vector<double> rope_inv_freq(const kernels::RopeSpec& rope);

class ReferenceLlama {
 public:
  // Checks that every parameter the config needs is present with the right size; throws
  // mlcc::Error naming the parameter otherwise.
  ReferenceLlama(const models::LlamaConfig& c, const Weights& w);

  // Runs one token at the next position and returns its logits [vocab].
  std::vector<float> step(int32_t token);
  int64_t position() const { return pos_; }
  void reset();

 private:
  const models::LlamaConfig c_;
  const Weights w_;  // a copy: callers may pass temporaries
  std::vector<double> inv_freq_;
  // Per layer, per past position: kv_heads * head_dim values.
  std::vector<std::vector<std::vector<double>>> keys_, values_;
  int64_t pos_ = 0;
  const std::vector<float>& param(const std::string& name) const;
};

// The logits of every position of `tokens`: result[t] are the logits after tokens[0..t].
std::vector<std::vector<float>> reference_forward(const models::LlamaConfig& c, const Weights& w,
                                                  const std::vector<int32_t>& tokens);

// Random weights for every parameter of the config (norm weights near 1, matrices with a
// 1/sqrt(in) spread), reproducible from `seed`.
Weights random_llama_weights(const models::LlamaConfig& c, uint64_t seed);

// The fp32 weights of a llama2.c checkpoint (legacy or version 1) under MLC-LLM's names,
// with q and k projections permuted from llama2.c's interleaved RoPE pairs to Hugging
// Face's rotate_half order: read by the weight converter's llama2.c reader
// (tools/convert_weight/weight_source.h), so test code needs mlcc_convert.
Weights read_llama2c_weights(const std::string& path, models::LlamaConfig* config);

// llama2.c's tokenizer.bin vocabulary and its decode() + safe_printf() of one token.
struct Llama2cVocab {
  std::vector<std::string> pieces;
  static Llama2cVocab read(const std::string& path, int64_t vocab_size);
  std::string decode(int32_t prev, int32_t token) const;
};

}  // namespace mlcc::testing
