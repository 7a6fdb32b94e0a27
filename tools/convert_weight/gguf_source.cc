// The GGUF checkpoint reader: the model config from the llama.* metadata, tensors under
// llama.cpp's names (token_embd, blk.N.attn_q, ...) dequantized to f32 and presented under
// Hugging Face's. llama.cpp's converter reorders each head's attn_q / attn_k rows into
// interleaved RoPE pairs (convert_hf_to_gguf.py's permute); reading undoes it. Its
// embedded vocabulary becomes a vocabulary-only tokenizer.gguf.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "models/llama.h"
#include "runtime/error.h"
#include "runtime/gguf.h"
#include "tools/convert_weight/ggml_quants.h"
#include "tools/convert_weight/gguf_writer.h"
#include "tools/convert_weight/weight_source.h"

namespace mlcc::convert {

namespace {

using nlohmann::json;

// llama.cpp's name of a Hugging Face tensor ("" when it has none).
std::string gguf_name(const std::string& hf) {
  static const std::map<std::string, std::string> kGlobal = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"}};
  static const std::map<std::string, std::string> kLayer = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"}};
  if (auto it = kGlobal.find(hf); it != kGlobal.end()) return it->second;
  const std::string prefix = "model.layers.";
  if (hf.rfind(prefix, 0) != 0) return "";
  const size_t dot = hf.find('.', prefix.size());
  if (dot == std::string::npos) return "";
  auto it = kLayer.find(hf.substr(dot + 1));
  if (it == kLayer.end()) return "";
  return "blk." + hf.substr(prefix.size(), dot - prefix.size()) + "." + it->second;
}

class GgufSource : public WeightSource {
 public:
  explicit GgufSource(const std::string& path) : file_(gguf::read(path)), data_(path) {
    const std::string arch = str("general.architecture");
    if (arch != "llama")
      throw Error(path + ": metadata general.architecture is \"" + arch +
                  "\" (expected \"llama\": other architectures are not converted)");
    read_config();
  }

  std::string kind() const override { return "gguf"; }
  const std::string& path() const override { return file_.path; }
  const models::LlamaConfig& config() const override { return config_; }

  SourceInfo info() const override {
    SourceInfo s;
    if (has_key("tokenizer.chat_template")) s.chat_template = str("tokenizer.chat_template");
    if (has_key("tokenizer.ggml.bos_token_id"))
      s.bos_token_id = integer("tokenizer.ggml.bos_token_id");
    if (has_key("tokenizer.ggml.eos_token_id"))
      s.eos_token_id = integer("tokenizer.ggml.eos_token_id");
    return s;
  }

  std::vector<std::string> write_embedded_tokenizer(const std::string& dir) const override {
    if (!has_key("tokenizer.ggml.model")) return {};
    GgufWriter w;
    for (const auto& [key, value] : file_.metadata.items())
      if (key.rfind("general.", 0) == 0 || key.rfind("tokenizer.", 0) == 0) w.set(key, value);
    w.write((std::filesystem::path(dir) / "tokenizer.gguf").string());
    return {"tokenizer.gguf"};
  }

  bool has(const std::string& hf) const override { return find(hf) != nullptr; }

  std::vector<int64_t> shape(const std::string& hf) const override {
    const gguf::TensorInfo& t = tensor(hf);
    return std::vector<int64_t>(t.dims.rbegin(), t.dims.rend());
  }

  std::string describe(const std::string& hf) const override {
    return "file '" + file_.path + "', tensor '" + gguf_name(hf) + "' (" + hf + ")";
  }

 protected:
  void read_stored_rows(const std::string& hf, int64_t row0, int64_t n, float* dst) const override {
    const gguf::TensorInfo& t = tensor(hf);
    const int64_t cols = t.dims[0];
    const size_t row_bytes = ggml_row_bytes(t.type, cols);
    std::vector<uint8_t> raw(row_bytes * static_cast<size_t>(n));
    data_.read(t.offset + static_cast<size_t>(row0) * row_bytes, raw.size(), raw.data(),
               "tensor '" + t.name + "'");
    for (int64_t r = 0; r < n; ++r)
      ggml_dequantize(t.type, raw.data() + static_cast<size_t>(r) * row_bytes, cols,
                      dst + r * cols);
  }
  int64_t interleaved_rope_heads(const std::string& hf) const override {
    if (hf.ends_with("self_attn.q_proj.weight")) return config_.num_heads;
    if (hf.ends_with("self_attn.k_proj.weight")) return config_.num_kv_heads;
    return 0;
  }

 private:
  const gguf::TensorInfo* find(const std::string& hf) const {
    const std::string name = gguf_name(hf);
    return name.empty() ? nullptr : file_.find(name);
  }

  // The tensor, present, at most 2-D and of a type mlcc decodes; else an error naming it.
  const gguf::TensorInfo& tensor(const std::string& hf) const {
    const gguf::TensorInfo* t = find(hf);
    if (!t) throw Error(file_.path + ": tensor '" + gguf_name(hf) + "' (" + hf + ") is missing");
    if (!ggml_type_supported(t->type))
      throw Error(describe(hf) + " has type " + gguf::tensor_type_name(t->type) +
                  " (expected F32, F16, BF16, Q8_0 or Q4_0: requantize with llama.cpp's "
                  "llama-quantize to Q8_0 or F16 first)");
    if (t->dims.empty() || t->dims.size() > 2)
      throw Error(describe(hf) + " has " + std::to_string(t->dims.size()) +
                  " dimensions (expected 1 or 2)");
    if (t->bytes == 0 ||
        ggml_row_bytes(t->type, t->dims[0]) * static_cast<size_t>(t->elements() / t->dims[0]) !=
            t->bytes)
      throw Error(describe(hf) + " of type " + gguf::tensor_type_name(t->type) + " has rows of " +
                  std::to_string(t->dims[0]) + " elements, not whole blocks");
    return *t;
  }

  bool has_key(const std::string& key) const { return file_.metadata.contains(key); }
  std::string str(const std::string& key) const {
    const json& v = file_.at(key);
    if (!v.is_string()) bad(key, v, "a string");
    return v.get<std::string>();
  }
  int64_t integer(const std::string& key) const {
    const json& v = file_.at(key);
    if (!v.is_number_integer()) bad(key, v, "an integer");
    return v.get<int64_t>();
  }
  // GGUF stores these as f32: 1e-5f comes back as 1e-5, not 9.99999974738e-06, so that the
  // config equals the one a config.json gives.
  double number(const std::string& key) const {
    const json& v = file_.at(key);
    if (!v.is_number()) bad(key, v, "a number");
    const double d = v.get<double>();
    const auto f = static_cast<float>(d);
    if (static_cast<double>(f) != d) return d;
    char buf[32];
    for (int digits = 6; digits <= 9; ++digits) {
      std::snprintf(buf, sizeof buf, "%.*g", digits, d);
      if (static_cast<float>(std::strtod(buf, nullptr)) == f) break;
    }
    return std::strtod(buf, nullptr);
  }
  [[noreturn]] void bad(const std::string& key, const json& v, const char* expected) const {
    std::string shown = v.dump();
    if (shown.size() > 60) shown = shown.substr(0, 60) + "...";
    throw Error(file_.path + ": metadata " + key + " is " + shown + " (expected " + expected + ")");
  }

  void read_config() {
    models::LlamaConfig& c = config_;
    c.architecture = "llama";
    c.hidden_size = integer("llama.embedding_length");
    c.num_layers = integer("llama.block_count");
    c.intermediate_size = integer("llama.feed_forward_length");
    c.num_heads = integer("llama.attention.head_count");
    c.num_kv_heads = has_key("llama.attention.head_count_kv")
                         ? integer("llama.attention.head_count_kv")
                         : c.num_heads;
    c.rms_norm_eps = number("llama.attention.layer_norm_rms_epsilon");
    c.max_position_embeddings = integer("llama.context_length");
    if (c.num_heads <= 0)
      bad("llama.attention.head_count", file_.at("llama.attention.head_count"), "> 0");
    c.head_dim = has_key("llama.attention.key_length") ? integer("llama.attention.key_length")
                                                       : c.hidden_size / c.num_heads;
    if (has_key("llama.rope.dimension_count") &&
        integer("llama.rope.dimension_count") != c.head_dim)
      throw Error(file_.path + ": metadata llama.rope.dimension_count is " +
                  std::to_string(integer("llama.rope.dimension_count")) + " but heads are " +
                  std::to_string(c.head_dim) + " wide (partial rotary embedding is not supported)");
    c.rope.head_dim = c.head_dim;
    c.rope.theta = has_key("llama.rope.freq_base") ? number("llama.rope.freq_base") : 10000.0;
    if (has_key("llama.rope.scaling.type") && str("llama.rope.scaling.type") != "none")
      throw Error(file_.path + ": metadata llama.rope.scaling.type is \"" +
                  str("llama.rope.scaling.type") +
                  "\" (only unscaled and llama3 RoPE are supported)");
    if (has_key("llama.vocab_size")) {
      c.vocab_size = integer("llama.vocab_size");
    } else if (has_key("tokenizer.ggml.tokens") && file_.at("tokenizer.ggml.tokens").is_array()) {
      c.vocab_size = static_cast<int64_t>(file_.at("tokenizer.ggml.tokens").size());
    } else if (const gguf::TensorInfo* e = file_.find("token_embd.weight");
               e && e->dims.size() == 2) {
      c.vocab_size = e->dims[1];
    }
    c.tie_word_embeddings = file_.find("output.weight") == nullptr;
    if (const gguf::TensorInfo* f = file_.find("rope_freqs.weight")) fit_llama3_rope(*f);
    c.validate(file_.path);
  }

  // Llama 3.1+ GGUFs carry the llama3 RoPE scaling as per-frequency divisors (rope_freqs)
  // instead of its parameters: recover them (factor = the largest divisor, Meta's
  // low/high frequency factors 1 and 4 over 8192 positions) and check that they reproduce
  // every divisor.
  void fit_llama3_rope(const gguf::TensorInfo& t) {
    kernels::RopeSpec& r = config_.rope;
    const int64_t half = r.head_dim / 2;
    if (t.type != static_cast<uint32_t>(gguf::TensorType::F32) || t.elements() != half)
      throw Error(file_.path + ": tensor 'rope_freqs.weight' is " + gguf::tensor_type_name(t.type) +
                  " of " + std::to_string(t.elements()) + " elements (expected F32 of " +
                  std::to_string(half) + ")");
    std::vector<float> div(static_cast<size_t>(half));
    data_.read(t.offset, div.size() * 4, div.data(), "tensor 'rope_freqs.weight'");
    r.scaling = "llama3";
    r.factor = *std::max_element(div.begin(), div.end());
    r.low_freq_factor = 1.0, r.high_freq_factor = 4.0, r.original_max_position = 8192;
    const double old_len = static_cast<double>(r.original_max_position);
    for (int64_t i = 0; i < half; ++i) {
      const double f =
          std::pow(r.theta, -2.0 * static_cast<double>(i) / static_cast<double>(r.head_dim));
      const double wavelen = 2 * M_PI / f;
      double expected = 1.0;
      if (wavelen > old_len / r.low_freq_factor) {
        expected = r.factor;
      } else if (wavelen >= old_len / r.high_freq_factor) {
        const double smooth =
            (old_len / wavelen - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
        expected = 1.0 / ((1 - smooth) / r.factor + smooth);
      }
      if (std::fabs(div[static_cast<size_t>(i)] - expected) > 1e-3 * expected)
        throw Error(file_.path +
                    ": tensor 'rope_freqs.weight' is not llama3 RoPE scaling with "
                    "factor " +
                    std::to_string(r.factor) +
                    ", low/high frequency factors 1 and 4 "
                    "and 8192 original positions (element " +
                    std::to_string(i) + " is " + std::to_string(div[static_cast<size_t>(i)]) +
                    ", expected " + std::to_string(expected) + ")");
    }
  }

  gguf::File file_;
  SourceFile data_;
  models::LlamaConfig config_;
};

}  // namespace

std::unique_ptr<WeightSource> open_gguf(const std::string& path) {
  return std::make_unique<GgufSource>(path);
}

}  // namespace mlcc::convert
