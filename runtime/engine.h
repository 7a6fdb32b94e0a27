// The generation engine: given a loaded Model and token ids, prefill in chunks, then
// decode on the paged KV cache, sampling each next token (runtime/sampler.h), stopping at
// stop tokens, stop strings, max_new_tokens or a full context window, streaming text as it
// becomes whole UTF-8 characters, and timing prefill and decode separately.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace mlcc {

class Model;
class Tokenizer;

struct SamplingConfig {
  float temperature = 0.7f;         // 0: greedy (argmax, first maximum)
  float top_p = 0.95f;              // 1: off
  int32_t top_k = 0;                // 0: off
  float repetition_penalty = 1.0f;  // 1: off; as in CTRL / transformers
  uint64_t seed = 0;                // same seed, same config, same text
};

struct GenerationConfig {
  SamplingConfig sampling;
  int64_t max_new_tokens = -1;            // -1: until a stop or the context window is full
  std::vector<int32_t> stop_token_ids;    // besides the tokenizer's stop_ids() and BOS
  std::vector<std::string> stop_strings;  // generation ends before the stop string
  bool ignore_stops = false;              // benchmark: exactly max_new_tokens tokens
};

struct GenerationStats {
  int64_t prefill_tokens = 0, decode_tokens = 0;
  double prefill_seconds = 0, decode_seconds = 0;
  double prefill_tokens_per_second() const;
  double decode_tokens_per_second() const;
  // Why the last generation ended: "stop token", "stop string", "max_new_tokens",
  // "context window full".
  std::string finish_reason;
};

class Engine {
 public:
  // tokenizer may be nullptr (ids only; on_text is then never called).
  Engine(Model& model, const Tokenizer* tokenizer);

  // Appends `prompt` (ids) to the sequence already in the model's KV cache, then generates.
  // Returns the generated ids (stop token excluded); on_text receives decoded text pieces
  // (text held back while it may begin a stop string, and nothing from a stop string on).
  // Throws mlcc::Error, having run nothing, when the prompt alone does not fit in the
  // context window; a generation that fills the window ends with finish_reason "context
  // window full". The last token of a reply ended by max_new_tokens has had no decode step:
  // it enters the KV cache at the front of the next generate()'s prompt.
  // Statistics: prefill is the prefill call and the first token's sampling, decode the
  // decode steps (each with its sampling).
  std::vector<int32_t> generate(const std::vector<int32_t>& prompt, const GenerationConfig& config,
                                const std::function<void(const std::string&)>& on_text = {});
  const GenerationStats& stats() const { return stats_; }
  // Forgets what the engine knows of the sequence; call it with Model::reset(). (A change
  // of the model's position behind the engine's back is noticed and does the same.)
  void reset();

 private:
  Model& model_;
  const Tokenizer* tokenizer_;
  GenerationStats stats_;
  std::vector<int32_t> history_;  // the tokens in the KV cache, for the repetition penalty
  int32_t pending_ = -1;          // the last token of a reply cut short, not yet in the cache
};

}  // namespace mlcc
