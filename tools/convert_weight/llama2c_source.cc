// The llama2.c checkpoint reader: fp32 tensors laid end to end after the header (legacy or
// version 1, each with its own order; see llama2.c's export.py), read and presented
// under Hugging Face's names. llama2.c rotates interleaved RoPE pairs, so its wq and wk rows
// are reordered on reading (WeightSource::read_rows).
#include <map>

#include "models/llama.h"
#include "runtime/error.h"
#include "tools/convert_weight/weight_source.h"

namespace mlcc::convert {

namespace {

struct Placed {
  size_t offset = 0;  // bytes from the start of the file
  std::vector<int64_t> shape;
};

class Llama2cSource : public WeightSource {
 public:
  explicit Llama2cSource(const std::string& path) : path_(path) {
    const models::Llama2cHeader h = models::read_llama2c_header(path);
    if (h.version == 2)
      throw Error(path +
                  ": a version 2 (int8 Q8_0) llama2.c checkpoint; only fp32 checkpoints (legacy "
                  "or version 1) are converted: export one with llama2.c's export.py --version 1");
    config_ = h.config;
    file_ = std::make_unique<SourceFile>(path);  // the header check has verified its size
    layout(h.version, static_cast<size_t>(h.header_bytes));
  }

  std::string kind() const override { return "llama2.c"; }
  const std::string& path() const override { return path_; }
  const models::LlamaConfig& config() const override { return config_; }
  // llama2.c's tokenizer.bin is SentencePiece's Llama vocabulary: BOS 1, EOS 2.
  SourceInfo info() const override { return {{}, "", 1, 2}; }

  bool has(const std::string& name) const override { return tensors_.count(name) != 0; }
  std::vector<int64_t> shape(const std::string& name) const override { return at(name).shape; }
  std::string describe(const std::string& name) const override {
    return "file '" + path_ + "', tensor '" + name + "'";
  }

 protected:
  void read_stored_rows(const std::string& name, int64_t row0, int64_t n,
                        float* dst) const override {
    const Placed& t = at(name);
    const size_t cols = static_cast<size_t>(t.shape.back());
    file_->read(t.offset + static_cast<size_t>(row0) * cols * 4, static_cast<size_t>(n) * cols * 4,
                dst, "tensor '" + name + "'");
  }
  int64_t interleaved_rope_heads(const std::string& name) const override {
    if (name.ends_with("self_attn.q_proj.weight")) return config_.num_heads;
    if (name.ends_with("self_attn.k_proj.weight")) return config_.num_kv_heads;
    return 0;
  }

 private:
  const Placed& at(const std::string& name) const {
    auto it = tensors_.find(name);
    if (it == tensors_.end())
      throw Error(path_ + ": a llama2.c checkpoint has no tensor '" + name + "'");
    return it->second;
  }

  // Places the tensors in file order: each a shape, per layer or not.
  void layout(int version, size_t offset) {
    const models::LlamaConfig& c = config_;
    const int64_t d = c.hidden_size, f = c.intermediate_size, v = c.vocab_size;
    const int64_t q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim;
    auto place = [&](const std::string& name, std::vector<int64_t> shape) {
      size_t n = 1;
      for (int64_t s : shape) n *= static_cast<size_t>(s);
      tensors_[name] = {offset, std::move(shape)};
      offset += n * 4;
    };
    auto per_layer = [&](const char* suffix, std::vector<int64_t> shape) {
      for (int64_t l = 0; l < c.num_layers; ++l) place(models::layer_param_name(l, suffix), shape);
    };
    auto projections = [&](bool with_ffn_norm) {
      per_layer("self_attn.q_proj.weight", {q, d});
      per_layer("self_attn.k_proj.weight", {kv, d});
      per_layer("self_attn.v_proj.weight", {kv, d});
      per_layer("self_attn.o_proj.weight", {d, q});
      if (with_ffn_norm) per_layer("post_attention_layernorm.weight", {d});
      per_layer("mlp.gate_proj.weight", {f, d});  // w1
      per_layer("mlp.down_proj.weight", {d, f});  // w2
      per_layer("mlp.up_proj.weight", {f, d});    // w3
    };
    if (version == 0) {
      place("model.embed_tokens.weight", {v, d});
      per_layer("input_layernorm.weight", {d});
      projections(true);
      place("model.norm.weight", {d});
      offset += static_cast<size_t>(c.max_position_embeddings * c.head_dim) * 4;  // freq_cis
    } else {
      per_layer("input_layernorm.weight", {d});
      per_layer("post_attention_layernorm.weight", {d});
      place("model.norm.weight", {d});
      place("model.embed_tokens.weight", {v, d});
      projections(false);
    }
    if (!c.tie_word_embeddings) place("lm_head.weight", {v, d});
    MLCC_CHECK(offset == file_->size(), "llama2.c layout disagrees with the header's size check");
  }

  std::string path_;
  models::LlamaConfig config_;
  std::unique_ptr<SourceFile> file_;
  std::map<std::string, Placed> tensors_;
};

}  // namespace

std::unique_ptr<WeightSource> open_llama2c(const std::string& path) {
  return std::make_unique<Llama2cSource>(path);
}

}  // namespace mlcc::convert
