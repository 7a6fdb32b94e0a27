// Helpers of the engine tests: a tiny random Llama compiled for the CPU, a tokenizer whose
// pieces are plain letters (so that tests can predict text), and a model directory written
// by hand (tensor cache, mlcc-chat-config.json, llama2.c tokenizer.bin) for Chat.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/llama_config.h"
#include "runtime/model.h"
#include "runtime/tokenizer.h"
#include "tests/models/reference_llama.h"
#include "tests/temp_dir.h"

namespace mlcc::testing {

// vocab_size 320 (3 control tokens, 256 byte tokens, 61 letter pieces: what
// write_llama2c_tokenizer writes), hidden 64, 2 layers, GQA.
models::LlamaConfig tiny_llama();

// A compiled q0f32 library of `config` with random weights set, and the weights.
struct TinyModel {
  TempDir dir;
  std::string lib;
  models::LlamaConfig config;
  Weights weights;
  std::unique_ptr<Model> model;
};
std::unique_ptr<TinyModel> make_tiny_model(int64_t context_window = 64,
                                           int64_t prefill_chunk_size = 16);

// Ids 0 <unk>, 1 BOS, 2 EOS (the stop id); every other id is a piece of one or two lower
// case letters ("a", ..., "z", "aa", "ab", ...), and a few special pieces at the top
// ("<|im_start|>", "<|im_end|>", "<|eot_id|>"). encode() matches the longest piece.
class LetterTokenizer : public Tokenizer {
 public:
  explicit LetterTokenizer(int32_t vocab_size);
  std::string kind() const override { return "letters"; }
  int32_t vocab_size() const override { return static_cast<int32_t>(pieces_.size()); }
  std::vector<int32_t> encode(const std::string& text, bool add_bos) const override;
  std::string token_bytes(int32_t id) const override;
  std::string token_piece(int32_t id) const override { return pieces_.at(id); }
  int32_t piece_to_id(const std::string& piece) const override;

 private:
  std::vector<std::string> pieces_;
};

// llama2.c's tokenizer.bin of tiny_llama()'s vocabulary: <unk>, <s>, </s>, <0x00>..<0xFF>,
// then " ", the letters, and " " + letter.
void write_llama2c_tokenizer(const std::string& path, int32_t vocab_size);

// A model directory for `model`: its parameters from `weights` (q0f32) in a tensor cache,
// mlcc-chat-config.json for `config` and tokenizer.bin.
void write_model_dir(const std::string& dir, const Model& model, const models::LlamaConfig& config,
                     const Weights& weights, const std::string& conv_template = "raw");

}  // namespace mlcc::testing
