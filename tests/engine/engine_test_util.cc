// The engine tests' helpers (tests/engine/engine_test_util.h).
#include "tests/engine/engine_test_util.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "runtime/chat_config.h"
#include "runtime/error.h"
#include "tests/models/model_weights.h"
#include "tools/compile_model.h"

namespace mlcc::testing {
namespace fs = std::filesystem;

models::LlamaConfig tiny_llama() {
  models::LlamaConfig c;
  c.vocab_size = 320, c.hidden_size = 64, c.intermediate_size = 96, c.num_layers = 2;
  c.num_heads = 4, c.num_kv_heads = 2, c.head_dim = 16, c.max_position_embeddings = 256;
  c.rope.head_dim = 16;
  c.rope.theta = 10000;
  return c;
}

std::unique_ptr<TinyModel> make_tiny_model(int64_t context_window, int64_t prefill_chunk_size) {
  auto t = std::make_unique<TinyModel>();
  t->config = tiny_llama();
  t->lib = t->dir.path + "/tiny-q0f32-cpu.so";
  CompileOptions o;
  o.target = "cpu";
  o.quantization = "q0f32";
  o.context_window = context_window;
  o.prefill_chunk_size = prefill_chunk_size;
  compile_model(t->config, o, t->lib);
  t->model = Model::load(t->lib, "cpu");
  // Weights with a wide spread, so that greedy text does not settle into one token at once.
  t->weights = random_llama_weights(t->config, 11);
  for (auto& [name, w] : t->weights)
    if (name.find("norm") == std::string::npos)
      for (float& x : w) x *= 4.0f;
  load_weights(*t->model, t->weights, "q0f32");
  return t;
}

LetterTokenizer::LetterTokenizer(int32_t vocab_size) {
  bos_id_ = 1;
  eos_id_ = 2;
  stop_ids_ = {2};
  pieces_ = {"<unk>", "<s>", "</s>"};
  for (char c = 'a'; c <= 'z'; ++c) pieces_.push_back(std::string(1, c));
  const std::vector<std::string> specials = {"<|im_start|>", "<|im_end|>", "<|eot_id|>"};
  for (int32_t i = 0; static_cast<int32_t>(pieces_.size()) + 3 < vocab_size; ++i)
    pieces_.push_back(
        std::string{static_cast<char>('a' + i / 26 % 26), static_cast<char>('a' + i % 26)});
  pieces_.insert(pieces_.end(), specials.begin(), specials.end());
}

std::vector<int32_t> LetterTokenizer::encode(const std::string& text, bool add_bos) const {
  std::vector<int32_t> ids;
  if (add_bos) ids.push_back(bos_id_);
  for (size_t at = 0; at < text.size();) {
    int32_t best = 0;
    size_t best_len = 1;
    for (size_t id = 3; id + 3 < pieces_.size(); ++id)
      if (pieces_[id].size() >= best_len &&
          text.compare(at, pieces_[id].size(), pieces_[id]) == 0 &&
          (best == 0 || pieces_[id].size() > best_len)) {
        best = static_cast<int32_t>(id);
        best_len = pieces_[id].size();
      }
    ids.push_back(best);
    at += best_len;
  }
  return ids;
}

std::string LetterTokenizer::token_bytes(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= pieces_.size())
    throw Error("token " + std::to_string(id) + " is outside the vocabulary");
  if (id < 3 || static_cast<size_t>(id) + 3 >= pieces_.size()) return "";
  return pieces_[id];
}

int32_t LetterTokenizer::piece_to_id(const std::string& piece) const {
  for (size_t i = 0; i < pieces_.size(); ++i)
    if (pieces_[i] == piece) return static_cast<int32_t>(i);
  return -1;
}

void write_llama2c_tokenizer(const std::string& path, int32_t vocab_size) {
  std::vector<std::string> pieces = {"<unk>", "\n<s>\n", "\n</s>\n"};
  char buf[8];
  for (int b = 0; b < 256; ++b) {
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    pieces.push_back(buf);
  }
  pieces.push_back(" ");
  for (char c = 'a'; c <= 'z'; ++c) pieces.push_back(std::string(1, c));
  for (char c = 'a'; c <= 'z'; ++c) pieces.push_back(std::string(" ") + c);
  for (const char* p : {" the", "th", "he", "an", "in", "er", "on", "ed", " once", "once"})
    if (static_cast<int32_t>(pieces.size()) < vocab_size) pieces.push_back(p);
  if (static_cast<int32_t>(pieces.size()) != vocab_size)
    throw Error("write_llama2c_tokenizer: the vocabulary has " + std::to_string(pieces.size()) +
                " pieces, not " + std::to_string(vocab_size));
  std::ofstream out(path, std::ios::binary);
  auto put = [&](const void* p, size_t n) { out.write(static_cast<const char*>(p), n); };
  int32_t max_len = 8;
  put(&max_len, 4);
  for (size_t i = 0; i < pieces.size(); ++i) {
    float score = -static_cast<float>(i);
    int32_t len = static_cast<int32_t>(pieces[i].size());
    put(&score, 4);
    put(&len, 4);
    put(pieces[i].data(), pieces[i].size());
  }
  if (!out) throw Error("cannot write " + path);
}

void write_model_dir(const std::string& dir, const Model& model, const models::LlamaConfig& config,
                     const Weights& weights, const std::string& conv_template) {
  fs::create_directories(dir);
  nlohmann::json records = nlohmann::json::array();
  std::ofstream shard(dir + "/params_shard_0.bin", std::ios::binary);
  size_t offset = 0;
  for (const ParamInfo& p : model.manifest().params) {
    const std::vector<float>& w = weights.at(p.name);
    if (p.dtype != "f32" || w.size() * 4 != p.bytes)
      throw Error("write_model_dir: parameter " + p.name + " is not the f32 of a q0f32 library");
    shard.write(reinterpret_cast<const char*>(w.data()), static_cast<std::streamsize>(p.bytes));
    records.push_back({{"name", p.name},
                       {"shape", p.shape},
                       {"dtype", "float32"},
                       {"format", "raw"},
                       {"nbytes", p.bytes},
                       {"byteOffset", offset}});
    offset += p.bytes;
  }
  shard.close();
  nlohmann::json index = {{"metadata", {{"ParamSize", records.size()}, {"ParamBytes", offset}}},
                          {"records",
                           {{{"dataPath", "params_shard_0.bin"},
                             {"format", "raw-shard"},
                             {"nbytes", offset},
                             {"records", records}}}}};
  std::ofstream(dir + "/tensor-cache.json") << index.dump(1);

  ChatConfig cc;
  cc.model_config = config.to_json();
  cc.quantization = model.manifest().quantization;
  cc.context_window_size = model.manifest().context_window;
  cc.prefill_chunk_size = model.manifest().prefill_chunk_size;
  cc.tokenizer_files = {"tokenizer.bin"};
  cc.conv_template = conv_template;
  cc.temperature = 0;
  cc.bos_token_id = 1;
  cc.eos_token_id = 2;
  cc.write(dir);
  write_llama2c_tokenizer(dir + "/tokenizer.bin", static_cast<int32_t>(config.vocab_size));
}

}  // namespace mlcc::testing
