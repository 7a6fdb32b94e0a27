// What weight conversion reads: a checkpoint (Hugging Face safetensors, llama2.c, GGUF)
// seen through one interface — tensors under Hugging Face's names and layout, as f32, a
// range of rows at a time — and the plan that maps them onto the parameters a compiled
// library expects (MLC-LLM's names, fused qkv_proj and gate_up_proj; models/llama.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/llama_config.h"

namespace mlcc::convert {

// A checkpoint file read with pread into the caller's buffers: resident memory stays at the
// size of those buffers, where a mapping would keep every page read so far.
class SourceFile {
 public:
  explicit SourceFile(const std::string& path);  // throws mlcc::Error naming the file
  ~SourceFile();
  SourceFile(const SourceFile&) = delete;
  SourceFile& operator=(const SourceFile&) = delete;
  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  // Bytes [offset, offset + n); a short read throws naming the file and `what`.
  void read(uint64_t offset, size_t n, void* dst, const std::string& what) const;

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// What a checkpoint says besides its weights, for mlcc-chat-config.json.
struct SourceInfo {
  std::vector<std::string> tokenizer_files;  // files beside the weights to copy (HF)
  std::string chat_template;                 // Jinja text, for guessing conv_template
  int32_t bos_token_id = -1, eos_token_id = -1;
};

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  virtual std::string kind() const = 0;  // "safetensors", "llama2.c", "gguf"
  virtual const std::string& path() const = 0;
  virtual const models::LlamaConfig& config() const = 0;
  virtual SourceInfo info() const = 0;
  // Writes a tokenizer the checkpoint embeds (GGUF's vocabulary) into dir and returns the
  // file names written; empty when the checkpoint has none.
  virtual std::vector<std::string> write_embedded_tokenizer(const std::string& /*dir*/) const {
    return {};
  }

  // Whether the checkpoint has the tensor (Hugging Face name, e.g.
  // "model.layers.0.self_attn.q_proj.weight"), and its Hugging Face shape: [out, in] or [n].
  virtual bool has(const std::string& hf_name) const = 0;
  // Throws mlcc::Error naming the file and tensor when it is absent.
  virtual std::vector<int64_t> shape(const std::string& hf_name) const = 0;
  // "file 'x.safetensors', tensor 'y'": where a tensor lives, for error messages.
  virtual std::string describe(const std::string& hf_name) const = 0;

  // Rows [row0, row0 + n) of the tensor as f32 in Hugging Face's order (a vector is one
  // row): q and k projections stored with interleaved RoPE pairs come back in rotate_half
  // order.
  void read_rows(const std::string& hf_name, int64_t row0, int64_t n, float* dst) const;

 protected:
  // Rows as stored.
  virtual void read_stored_rows(const std::string& hf_name, int64_t row0, int64_t n,
                                float* dst) const = 0;
  // Heads of a projection stored with llama2.c / llama.cpp's interleaved RoPE pairs
  // (row 2j + t of a head holds Hugging Face's row t * head_dim/2 + j); 0 when none.
  virtual int64_t interleaved_rope_heads(const std::string& /*hf_name*/) const { return 0; }
};

// "[4096, 11008]", for error messages.
std::string shape_text(const std::vector<int64_t>& shape);

// Opens a checkpoint, choosing the reader by content: a directory (config.json and
// *.safetensors), a GGUF file (magic "GGUF"), else a llama2.c checkpoint. Each reader
// throws mlcc::Error naming the file and what is wrong.
std::unique_ptr<WeightSource> open_source(const std::string& path);
// A Hugging Face directory: config.json, and model.safetensors or the shards
// model.safetensors.index.json lists (or, without an index, every *.safetensors).
std::unique_ptr<WeightSource> open_hf_directory(const std::string& dir);  // safetensors.cc
// A llama2.c checkpoint, legacy or version 1 (fp32); version 2 (int8) is refused.
std::unique_ptr<WeightSource> open_llama2c(const std::string& path);  // llama2c_source.cc
// A GGUF file of general.architecture "llama".
std::unique_ptr<WeightSource> open_gguf(const std::string& path);  // gguf_source.cc

// One parameter of the library before quantization: an f32 matrix [rows, cols] (or a
// vector, rows == 1) made by concatenating Hugging Face tensors along rows.
struct ParamPlan {
  std::string name;                // MLC-LLM's, ending in ".weight"
  std::vector<std::string> parts;  // Hugging Face tensors, concatenated in this order
  std::vector<int64_t> shape;      // [rows, cols] or [n]
  bool quantized = false;          // with q4: stored as NAME.q_weight + NAME.q_scale
  int64_t rows() const { return shape.size() == 2 ? shape[0] : 1; }
  int64_t cols() const { return shape.back(); }
};

// A tensor of the output, as the library's manifest lists it.
struct OutputTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::string dtype;  // manifest name: "f16", "f32", "u32"
  size_t nbytes() const;
};

// The parameters of the config in the library's order; throws naming the quantization
// when it is not q0f16, q0f32, q4f16_1 or q4f32_1.
std::vector<ParamPlan> plan_params(const models::LlamaConfig& c, const std::string& quantization);
// What one planned parameter becomes: the weight in the activation dtype, or its q4
// q_weight u32[rows, q4_words(cols)] and q_scale [rows, q4_groups(cols)] (as the
// quantize graph pass names them).
std::vector<OutputTensor> output_tensors(const ParamPlan& p, const std::string& quantization);

// Checks every part of every planned parameter against the source's shapes (all of them,
// before anything is written); throws mlcc::Error naming the file, tensor, and both shapes.
void check_shapes(const WeightSource& src, const std::vector<ParamPlan>& plan);

// Rows [row0, row0 + n) of a planned parameter, reading across its parts.
void read_param_rows(const WeightSource& src, const ParamPlan& p, int64_t row0, int64_t n,
                     float* dst);

}  // namespace mlcc::convert
