// Helpers of the weight-conversion tests (tests/convert/convert_test_util.h).
#include "tests/convert/convert_test_util.h"

#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "ir/half.h"
#include "models/llama.h"
#include "models/q4_quantize.h"
#include "runtime/tensor_cache.h"
#include "tests/models/model_weights.h"
#include "tools/compile_model.h"
#include "tools/convert_weight/weight_source.h"

namespace mlcc::test {

using nlohmann::json;
namespace fs = std::filesystem;

convert::ConvertOptions convert_options(const std::string& src, const std::string& out,
                                        const std::string& quant) {
  convert::ConvertOptions o;
  o.source = src;
  o.output = out;
  o.quantization = quant;
  o.threads = 2;
  return o;
}

models::LlamaConfig small_llama() {
  models::LlamaConfig c;
  c.vocab_size = 160, c.hidden_size = 64, c.intermediate_size = 96, c.num_layers = 2;
  c.num_heads = 4, c.num_kv_heads = 2, c.head_dim = 16, c.max_position_embeddings = 64;
  c.rope.head_dim = 16;
  c.rope.theta = 10000;
  return c;
}

json hf_config_json(const models::LlamaConfig& c) {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"vocab_size", c.vocab_size},
          {"hidden_size", c.hidden_size},
          {"intermediate_size", c.intermediate_size},
          {"num_hidden_layers", c.num_layers},
          {"num_attention_heads", c.num_heads},
          {"num_key_value_heads", c.num_kv_heads},
          {"rms_norm_eps", c.rms_norm_eps},
          {"max_position_embeddings", c.max_position_embeddings},
          {"rope_theta", c.rope.theta},
          {"tie_word_embeddings", c.tie_word_embeddings},
          {"bos_token_id", 1},
          {"eos_token_id", 2},
          {"hidden_act", "silu"}};
}

void write_safetensors(const std::string& path, const std::vector<StTensor>& tensors,
                       const std::string& dtype) {
  json header = json::object();
  std::string data;
  for (const StTensor& t : tensors) {
    const size_t begin = data.size();
    for (float v : t.values) {
      if (dtype == "F32") {
        data.append(reinterpret_cast<const char*>(&v), 4);
      } else {
        const uint16_t b = dtype == "F16" ? float_to_half(v) : float_to_bf16(v);
        data.append(reinterpret_cast<const char*>(&b), 2);
      }
    }
    header[t.name] = {{"dtype", dtype}, {"shape", t.shape}, {"data_offsets", {begin, data.size()}}};
  }
  header["__metadata__"] = {{"format", "pt"}};
  std::string text = header.dump();
  text.resize((text.size() + 7) / 8 * 8, ' ');  // as the Python writer pads
  const uint64_t n = text.size();
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << text << data;
  REQUIRE(out.good());
}

std::vector<StTensor> hf_tensors(const models::LlamaConfig& c, const testing::Weights& w) {
  std::vector<StTensor> out;
  const int64_t h = c.hidden_size, f = c.intermediate_size;
  const int64_t q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim;
  auto rows = [&](const std::string& name, int64_t from, int64_t n, int64_t cols) {
    const std::vector<float>& v = w.at(name);
    return std::vector<float>(v.begin() + from * cols, v.begin() + (from + n) * cols);
  };
  out.push_back(
      {"model.embed_tokens.weight", {c.vocab_size, h}, w.at("model.embed_tokens.weight")});
  for (int64_t l = 0; l < c.num_layers; ++l) {
    auto n = [&](const char* s) { return models::layer_param_name(l, s); };
    out.push_back({n("input_layernorm.weight"), {h}, w.at(n("input_layernorm.weight"))});
    const std::string qkv = n("self_attn.qkv_proj.weight"), gu = n("mlp.gate_up_proj.weight");
    out.push_back({n("self_attn.q_proj.weight"), {q, h}, rows(qkv, 0, q, h)});
    out.push_back({n("self_attn.k_proj.weight"), {kv, h}, rows(qkv, q, kv, h)});
    out.push_back({n("self_attn.v_proj.weight"), {kv, h}, rows(qkv, q + kv, kv, h)});
    out.push_back({n("self_attn.o_proj.weight"), {h, q}, w.at(n("self_attn.o_proj.weight"))});
    out.push_back(
        {n("post_attention_layernorm.weight"), {h}, w.at(n("post_attention_layernorm.weight"))});
    out.push_back({n("mlp.gate_proj.weight"), {f, h}, rows(gu, 0, f, h)});
    out.push_back({n("mlp.up_proj.weight"), {f, h}, rows(gu, f, f, h)});
    out.push_back({n("mlp.down_proj.weight"), {h, f}, w.at(n("mlp.down_proj.weight"))});
  }
  out.push_back({"model.norm.weight", {h}, w.at("model.norm.weight")});
  if (!c.tie_word_embeddings)
    out.push_back({"lm_head.weight", {c.vocab_size, h}, w.at("lm_head.weight")});
  return out;
}

testing::Weights rounded(const testing::Weights& w, const std::string& dtype) {
  testing::Weights r = w;
  for (auto& [name, v] : r)
    for (float& x : v)
      x = dtype == "F16" ? round_to_half(x) : dtype == "BF16" ? round_to_bf16(x) : x;
  return r;
}

void write_hf_model(const std::string& dir, const models::LlamaConfig& c, const testing::Weights& w,
                    const std::string& dtype, int shards, const std::string& chat_template) {
  fs::create_directories(dir);
  std::ofstream(dir + "/config.json") << hf_config_json(c).dump(2);
  std::ofstream(dir + "/tokenizer.json") << R"({"model": {"type": "BPE"}})";
  if (!chat_template.empty())
    std::ofstream(dir + "/tokenizer_config.json") << json{{"chat_template", chat_template}}.dump();
  const std::vector<StTensor> all = hf_tensors(c, w);
  if (shards <= 1) return write_safetensors(dir + "/model.safetensors", all, dtype);
  json map = json::object();
  for (int s = 0; s < shards; ++s) {
    const std::string file =
        "model-0000" + std::to_string(s + 1) + "-of-0000" + std::to_string(shards) + ".safetensors";
    std::vector<StTensor> part;
    for (size_t i = static_cast<size_t>(s); i < all.size(); i += static_cast<size_t>(shards)) {
      part.push_back(all[i]);
      map[all[i].name] = file;
    }
    write_safetensors(dir + "/" + file, part, dtype);
  }
  std::ofstream(dir + "/model.safetensors.index.json")
      << json{{"metadata", {{"total_size", 0}}}, {"weight_map", map}}.dump(2);
}

const std::string& compiled_library(const models::LlamaConfig& c, const std::string& quant) {
  static TempDir dir;
  static std::map<std::string, std::string> libs;
  const std::string key = c.to_json().dump() + quant;
  auto it = libs.find(key);
  if (it != libs.end()) return it->second;
  const std::string path = dir / ("lib" + std::to_string(libs.size()) + "-" + quant + ".so");
  CompileOptions o;
  o.target = "cpu";
  o.quantization = quant;
  o.context_window = 64;
  o.prefill_chunk_size = 16;
  compile_model(c, o, path);
  return libs[key] = path;
}

std::vector<uint8_t> record_bytes(const std::string& dir, const std::string& name) {
  const TensorCache cache = TensorCache::read(dir);
  const TensorShard* shard = nullptr;
  const TensorRecord* r = cache.find(name, &shard);
  REQUIRE(r != nullptr);
  std::ifstream in(dir + "/" + shard->data_path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(r->byte_offset));
  std::vector<uint8_t> bytes(r->nbytes);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(in.good());
  return bytes;
}

testing::Weights read_converted(const std::string& dir, const models::LlamaConfig& c,
                                const std::string& quant) {
  auto bytes = [&](const std::string& name) { return record_bytes(dir, name); };
  auto floats = [](const std::vector<uint8_t>& b, bool f16) {
    std::vector<float> v(b.size() / (f16 ? 2 : 4));
    for (size_t i = 0; i < v.size(); ++i) {
      if (f16) {
        uint16_t h;
        std::memcpy(&h, &b[2 * i], 2);
        v[i] = half_to_float(h);
      } else {
        std::memcpy(&v[i], &b[4 * i], 4);
      }
    }
    return v;
  };
  const bool f16 = quant == "q4f16_1" || quant == "q0f16";
  testing::Weights w;
  for (const convert::ParamPlan& p : convert::plan_params(c, quant)) {
    if (!p.quantized) {
      w[p.name] = floats(bytes(p.name), f16);
      continue;
    }
    const std::string base = p.name.substr(0, p.name.size() - 7);
    models::Q4Weight q;
    q.rows = p.rows(), q.cols = p.cols();
    q.scale_dtype = f16 ? ir::DataType::f16() : ir::DataType::f32();
    const std::vector<uint8_t> qw = bytes(base + ".q_weight");
    q.qweight.resize(qw.size() / 4);
    std::memcpy(q.qweight.data(), qw.data(), qw.size());
    q.scales = floats(bytes(base + ".q_scale"), f16);
    w[p.name] = models::dequantize_q4(q);
  }
  return w;
}

double worst_logit_error(const std::string& lib, const std::string& dir,
                         const models::LlamaConfig& c, const testing::Weights& weights) {
  auto model = Model::load(lib, "cpu");
  load_params(*model, dir);
  const std::vector<int32_t> tokens = {1, 17, 42, 99, 3, 150, 8, 77, 5, 31, 64, 12};
  const auto ref = testing::reference_forward(c, weights, tokens);
  const size_t n = 8;
  double worst = testing::relative_error(
      model->prefill(std::vector<int32_t>(tokens.begin(), tokens.begin() + n)), ref[n - 1]);
  for (size_t t = n; t < tokens.size(); ++t)
    worst = std::max(worst, testing::relative_error(model->decode(tokens[t]), ref[t]));
  return worst;
}

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace mlcc::test
