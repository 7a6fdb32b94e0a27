// The Llama-family graph builder: turns a LlamaConfig into the graph module a library is
// compiled from — entry functions embed, prefill, decode, softmax_with_temperature and
// argmax over unquantized parameters named as MLC-LLM names them (fused qkv_proj and
// gate_up_proj), with a paged KV cache per layer. Quantization is a later graph pass.
#pragma once

#include <cstdint>
#include <string>

#include "ir/graph/graph.h"
#include "models/llama_config.h"

namespace mlcc::models {

struct LlamaBuildOptions {
  ir::DataType act_dtype = ir::DataType::f16();  // f16 or f32
  int64_t context_window = 2048;                 // upper bound of total_seq_len
  int64_t prefill_chunk_size = 2048;             // upper bound of seq_len
  int64_t page_size = 16;                        // tokens per KV cache page
};

// The symbolic dimensions the module uses; passes and the runtime bind them by name.
inline graph::Dim seq_len_dim(const LlamaBuildOptions& o) {
  return graph::Dim::symbolic("seq_len", o.prefill_chunk_size);
}
inline graph::Dim total_seq_len_dim(const LlamaBuildOptions& o) {
  return graph::Dim::symbolic("total_seq_len", o.context_window);
}
// ceil(context_window / page_size): the pages of one layer's cache and of a page table.
int64_t kv_num_pages(const LlamaBuildOptions& o);

// The per-layer cache type: act_dtype[num_pages, 2, kv_heads, page_size, head_dim].
graph::TensorType kv_cache_type(const LlamaConfig& c, const LlamaBuildOptions& o);

// Parameter names (MLC-LLM's).
std::string layer_param_name(int64_t layer,
                             const std::string& suffix);  // "model.layers.N.<suffix>"
// model.embed_tokens.weight when tied, else lm_head.weight.
std::string lm_head_param_name(const LlamaConfig& c);

// Throws mlcc::Error naming the option when options are unusable (a dtype other than
// f16/f32, non-positive sizes).
graph::Module build_llama(const LlamaConfig& c, const LlamaBuildOptions& o);

}  // namespace mlcc::models
