// Choosing the next token from a model's logits: greedy (argmax on the device), or a
// draw from the softmax at a temperature (computed on the device) narrowed by top-k and
// top-p, with CTRL's repetition penalty on the host when it is on. The host-side steps are
// static functions so that tests can check them on hand-made logits.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "runtime/engine.h"

namespace mlcc {

class Model;

class Sampler {
 public:
  // Throws mlcc::Error naming the setting when the config is out of range (temperature
  // < 0, top_p outside (0, 1], top_k < 0, repetition_penalty <= 0).
  explicit Sampler(const SamplingConfig& config);

  bool greedy() const { return config_.temperature == 0.0f; }

  // The next token after the model's last step. `logits` are those the step returned (on
  // the host); `history` is every token in the sequence, for the repetition penalty.
  int32_t next(Model& model, std::span<const float> logits, std::span<const int32_t> history);

  // Samples from probabilities (summing to about 1): top-k, then top-p, then a draw with
  // the seeded generator.
  int32_t sample(std::span<const float> probs);

  // CTRL's penalty (transformers' RepetitionPenaltyLogitsProcessor): the logit of every
  // token of `history` is divided by `penalty` when positive, multiplied when negative.
  static void apply_repetition_penalty(std::span<float> logits, std::span<const int32_t> history,
                                       float penalty);
  // The index of the first maximum.
  static int32_t argmax(std::span<const float> logits);
  // softmax(logits / temperature) in f32 with the maximum subtracted first.
  static std::vector<float> softmax(std::span<const float> logits, float temperature);
  // The tokens top-k and top-p keep, most probable first (ties: lower id first).
  static std::vector<int32_t> candidates(std::span<const float> probs, int32_t top_k, float top_p);

 private:
  SamplingConfig config_;
  std::mt19937_64 rng_;
};

}  // namespace mlcc
