// The reference Llama forward pass, random weights, and readers for llama2.c checkpoints and
// vocabularies (test code only). Written for clarity: one token at a time, in double.
#include "tests/models/reference_llama.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

#include "models/llama.h"
#include "runtime/error.h"
#include "tools/convert_weight/weight_source.h"

namespace mlcc::testing {

using models::LlamaConfig;

std::vector<double> rope_inv_freq(const kernels::RopeSpec& rope) {
  const int64_t d = rope.head_dim;
  std::vector<double> inv(static_cast<size_t>(d / 2));
  for (int64_t i = 0; i < d / 2; ++i)
    inv[static_cast<size_t>(i)] = std::pow(rope.theta, -2.0 * static_cast<double>(i) / d);
  if (rope.scaling != "llama3") return inv;
  const double old_len = static_cast<double>(rope.original_max_position);
  const double low_wavelen = old_len / rope.low_freq_factor;
  const double high_wavelen = old_len / rope.high_freq_factor;
  for (double& f : inv) {
    const double wavelen = 2.0 * M_PI / f;
    if (wavelen > low_wavelen) {
      f = f / rope.factor;                 // low frequencies: interpolated
    } else if (wavelen >= high_wavelen) {  // medium: a blend of the two
      const double smooth = (old_len / wavelen - rope.low_freq_factor) /
                            (rope.high_freq_factor - rope.low_freq_factor);
      f = (1.0 - smooth) * f / rope.factor + smooth * f;
    }
  }
  return inv;
}

namespace {

std::vector<double> rms_norm(const std::vector<double>& x, const std::vector<float>& w,
                             double eps) {
  double ss = 0;
  for (double v : x) ss += v * v;
  const double inv = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + eps);
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * inv * w[i];
  return y;
}

// y = W x with W[rows, x.size()] row-major.
std::vector<double> matvec(const std::vector<float>& w, const std::vector<double>& x) {
  const size_t cols = x.size(), rows = w.size() / cols;
  std::vector<double> y(rows);
  for (size_t r = 0; r < rows; ++r) {
    double acc = 0;
    for (size_t c = 0; c < cols; ++c) acc += static_cast<double>(w[r * cols + c]) * x[c];
    y[r] = acc;
  }
  return y;
}

// Rotates `heads` heads of width d starting at v[offset] for position pos (rotate_half).
void apply_rope(std::vector<double>& v, size_t offset, int64_t heads, int64_t d, int64_t pos,
                const std::vector<double>& inv_freq) {
  const int64_t half = d / 2;
  for (int64_t h = 0; h < heads; ++h) {
    double* x = v.data() + offset + static_cast<size_t>(h * d);
    for (int64_t i = 0; i < half; ++i) {
      const double a = static_cast<double>(pos) * inv_freq[static_cast<size_t>(i)];
      const double c = std::cos(a), s = std::sin(a);
      const double x0 = x[i], x1 = x[i + half];
      x[i] = x0 * c - x1 * s;
      x[i + half] = x1 * c + x0 * s;
    }
  }
}

std::map<std::string, size_t> expected_sizes(const LlamaConfig& c) {
  const size_t h = static_cast<size_t>(c.hidden_size), f = static_cast<size_t>(c.intermediate_size),
               v = static_cast<size_t>(c.vocab_size), d = static_cast<size_t>(c.head_dim),
               hq = static_cast<size_t>(c.num_heads), hkv = static_cast<size_t>(c.num_kv_heads);
  std::map<std::string, size_t> s;
  s["model.embed_tokens.weight"] = v * h;
  for (int64_t l = 0; l < c.num_layers; ++l) {
    s[models::layer_param_name(l, "input_layernorm.weight")] = h;
    s[models::layer_param_name(l, "self_attn.qkv_proj.weight")] = (hq + 2 * hkv) * d * h;
    s[models::layer_param_name(l, "self_attn.o_proj.weight")] = h * hq * d;
    s[models::layer_param_name(l, "post_attention_layernorm.weight")] = h;
    s[models::layer_param_name(l, "mlp.gate_up_proj.weight")] = 2 * f * h;
    s[models::layer_param_name(l, "mlp.down_proj.weight")] = h * f;
  }
  s["model.norm.weight"] = h;
  if (!c.tie_word_embeddings) s["lm_head.weight"] = v * h;
  return s;
}

}  // namespace

ReferenceLlama::ReferenceLlama(const LlamaConfig& c, const Weights& w)
    : c_(c), w_(w), inv_freq_(rope_inv_freq(c.rope)) {
  for (const auto& [name, size] : expected_sizes(c)) {
    auto it = w.find(name);
    if (it == w.end()) throw Error("reference llama: parameter '" + name + "' is missing");
    if (it->second.size() != size)
      throw Error("reference llama: parameter '" + name + "' has " +
                  std::to_string(it->second.size()) + " values, expected " + std::to_string(size));
  }
  reset();
}

void ReferenceLlama::reset() {
  pos_ = 0;
  keys_.assign(static_cast<size_t>(c_.num_layers), {});
  values_.assign(static_cast<size_t>(c_.num_layers), {});
}

const std::vector<float>& ReferenceLlama::param(const std::string& name) const {
  return w_.at(name);
}

std::vector<float> ReferenceLlama::step(int32_t token) {
  const int64_t h = c_.hidden_size, f = c_.intermediate_size, d = c_.head_dim;
  const int64_t hq = c_.num_heads, hkv = c_.num_kv_heads, group = hq / hkv;
  if (token < 0 || token >= c_.vocab_size)
    throw Error("reference llama: token " + std::to_string(token) + " outside the vocabulary");
  const std::vector<float>& embed = param("model.embed_tokens.weight");
  std::vector<double> x(embed.begin() + token * h, embed.begin() + (token + 1) * h);
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  for (int64_t l = 0; l < c_.num_layers; ++l) {
    auto p = [&](const char* suffix) -> const std::vector<float>& {
      return param(models::layer_param_name(l, suffix));
    };
    std::vector<double> qkv = matvec(p("self_attn.qkv_proj.weight"),
                                     rms_norm(x, p("input_layernorm.weight"), c_.rms_norm_eps));
    apply_rope(qkv, 0, hq, d, pos_, inv_freq_);
    apply_rope(qkv, static_cast<size_t>(hq * d), hkv, d, pos_, inv_freq_);
    auto& keys = keys_[static_cast<size_t>(l)];
    auto& vals = values_[static_cast<size_t>(l)];
    keys.emplace_back(qkv.begin() + hq * d, qkv.begin() + (hq + hkv) * d);
    vals.emplace_back(qkv.begin() + (hq + hkv) * d, qkv.end());
    std::vector<double> attn(static_cast<size_t>(hq * d), 0.0);
    for (int64_t head = 0; head < hq; ++head) {
      const int64_t kvh = head / group;
      const double* q = qkv.data() + head * d;
      std::vector<double> score(keys.size());
      double mx = -INFINITY;
      for (size_t t = 0; t < keys.size(); ++t) {
        double s = 0;
        for (int64_t i = 0; i < d; ++i) s += q[i] * keys[t][static_cast<size_t>(kvh * d + i)];
        score[t] = s * scale;
        mx = std::max(mx, score[t]);
      }
      double sum = 0;
      for (double& s : score) sum += (s = std::exp(s - mx));
      for (size_t t = 0; t < keys.size(); ++t)
        for (int64_t i = 0; i < d; ++i)
          attn[static_cast<size_t>(head * d + i)] +=
              score[t] / sum * vals[t][static_cast<size_t>(kvh * d + i)];
    }
    std::vector<double> o = matvec(p("self_attn.o_proj.weight"), attn);
    for (int64_t i = 0; i < h; ++i) x[static_cast<size_t>(i)] += o[static_cast<size_t>(i)];
    std::vector<double> gu =
        matvec(p("mlp.gate_up_proj.weight"),
               rms_norm(x, p("post_attention_layernorm.weight"), c_.rms_norm_eps));
    std::vector<double> m(static_cast<size_t>(f));
    for (int64_t i = 0; i < f; ++i) {
      const double g = gu[static_cast<size_t>(i)], u = gu[static_cast<size_t>(f + i)];
      m[static_cast<size_t>(i)] = g / (1.0 + std::exp(-g)) * u;
    }
    std::vector<double> down = matvec(p("mlp.down_proj.weight"), m);
    for (int64_t i = 0; i < h; ++i) x[static_cast<size_t>(i)] += down[static_cast<size_t>(i)];
  }
  ++pos_;
  std::vector<double> logits = matvec(param(models::lm_head_param_name(c_)),
                                      rms_norm(x, param("model.norm.weight"), c_.rms_norm_eps));
  return std::vector<float>(logits.begin(), logits.end());
}

std::vector<std::vector<float>> reference_forward(const LlamaConfig& c, const Weights& w,
                                                  const std::vector<int32_t>& tokens) {
  ReferenceLlama ref(c, w);
  std::vector<std::vector<float>> out;
  for (int32_t t : tokens) out.push_back(ref.step(t));
  return out;
}

Weights random_llama_weights(const LlamaConfig& c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Weights w;
  for (const auto& [name, size] : expected_sizes(c)) {
    std::vector<float>& v = w[name];
    v.resize(size);
    if (name.find("norm") != std::string::npos) {
      for (float& x : v) x = 1.0f + 0.2f * u(rng);
    } else {
      // in-features: the row length of every matrix here.
      const int64_t in = name.find("down_proj") != std::string::npos ? c.intermediate_size
                         : name.find("o_proj") != std::string::npos  ? c.num_heads * c.head_dim
                                                                     : c.hidden_size;
      const float spread =
          name.find("embed") != std::string::npos ? 1.0f : std::sqrt(3.0f / static_cast<float>(in));
      for (float& x : v) x = spread * u(rng);
    }
  }
  return w;
}

// ---- llama2.c ------------------------------------------------------------------------

Weights read_llama2c_weights(const std::string& path, LlamaConfig* config) {
  // The converter's reader, so that the layout and the q/k row permutation live once.
  std::unique_ptr<convert::WeightSource> src = convert::open_llama2c(path);
  Weights w;
  for (const convert::ParamPlan& p : convert::plan_params(src->config(), "q0f32")) {
    std::vector<float>& v = w[p.name];
    v.resize(static_cast<size_t>(p.rows() * p.cols()));
    convert::read_param_rows(*src, p, 0, p.rows(), v.data());
  }
  if (config) *config = src->config();
  return w;
}

Llama2cVocab Llama2cVocab::read(const std::string& path, int64_t vocab_size) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open llama2.c tokenizer '" + path + "'");
  int32_t max_len = 0;
  in.read(reinterpret_cast<char*>(&max_len), 4);
  Llama2cVocab v;
  for (int64_t i = 0; i < vocab_size; ++i) {
    float score;
    int32_t len;
    in.read(reinterpret_cast<char*>(&score), 4);
    in.read(reinterpret_cast<char*>(&len), 4);
    if (!in || len < 0 || len > max_len) throw Error(path + ": bad token " + std::to_string(i));
    std::string piece(static_cast<size_t>(len), '\0');
    in.read(piece.data(), len);
    v.pieces.push_back(std::move(piece));
  }
  if (!in) throw Error(path + ": truncated llama2.c tokenizer");
  return v;
}

std::string Llama2cVocab::decode(int32_t prev, int32_t token) const {
  std::string piece = pieces.at(static_cast<size_t>(token));
  if (prev == 1 && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);  // after BOS
  unsigned int byte = 0;
  if (piece.size() == 6 && std::sscanf(piece.c_str(), "<0x%02X>", &byte) == 1)
    piece = std::string(1, static_cast<char>(byte));
  // safe_printf: a lone byte that is neither printable nor space prints nothing.
  if (piece.size() == 1) {
    auto b = static_cast<unsigned char>(piece[0]);
    if (!(std::isprint(b) || std::isspace(b))) return "";
  }
  return piece;
}

}  // namespace mlcc::testing
