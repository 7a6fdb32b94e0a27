// The sampler (runtime/sampler.h). Greedy and plain temperature sampling stay on the
// device (argmax, softmax_with_temperature); only the repetition penalty needs the raw
// logits on the host, so only then does the softmax run here.
#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "runtime/error.h"
#include "runtime/model.h"

namespace mlcc {
namespace {

// Most probable first, the lower id first among equals, so that results never depend on
// the sort's stability.
struct ByProb {
  std::span<const float> probs;
  bool operator()(int32_t a, int32_t b) const {
    return probs[a] != probs[b] ? probs[a] > probs[b] : a < b;
  }
};

// The `count` most probable ids among `ids`, sorted, moved to the front of `ids`.
void sort_front(std::vector<int32_t>& ids, size_t count, ByProb by) {
  count = std::min(count, ids.size());
  std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(count), ids.end(), by);
}

// A uniform double in [0, 1) from the generator's top 53 bits: the same on every standard
// library, unlike std::uniform_real_distribution.
double uniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

}  // namespace

Sampler::Sampler(const SamplingConfig& config) : config_(config), rng_(config.seed) {
  auto bad = [](const std::string& field, float value, const std::string& expected) {
    return Error("sampling: " + field + " is " + std::to_string(value) + "; expected " + expected);
  };
  if (!(config.temperature >= 0.0f) || !std::isfinite(config.temperature))
    throw bad("temperature", config.temperature, "a number >= 0 (0: greedy)");
  if (!(config.top_p > 0.0f && config.top_p <= 1.0f))
    throw bad("top_p", config.top_p, "a number in (0, 1] (1: off)");
  if (config.top_k < 0)
    throw bad("top_k", static_cast<float>(config.top_k), "an integer >= 0 (0: off)");
  if (!(config.repetition_penalty > 0.0f) || !std::isfinite(config.repetition_penalty))
    throw bad("repetition_penalty", config.repetition_penalty, "a number > 0 (1: off)");
}

int32_t Sampler::next(Model& model, std::span<const float> logits,
                      std::span<const int32_t> history) {
  if (config_.repetition_penalty == 1.0f) {
    if (greedy()) return model.argmax();
    std::vector<float> probs = model.softmax(config_.temperature);
    return sample(probs);
  }
  std::vector<float> penalized(logits.begin(), logits.end());
  apply_repetition_penalty(penalized, history, config_.repetition_penalty);
  if (greedy()) return argmax(penalized);
  return sample(softmax(penalized, config_.temperature));
}

int32_t Sampler::sample(std::span<const float> probs) {
  MLCC_CHECK(!probs.empty(), "sampling from no probabilities");
  if (config_.top_k == 0 && config_.top_p >= 1.0f) {
    double total = 0;
    for (float p : probs) total += p;
    double u = uniform(rng_) * total;
    for (size_t i = 0; i < probs.size(); ++i) {
      u -= probs[i];
      if (u < 0) return static_cast<int32_t>(i);
    }
    // Rounding left u a hair above zero: the last token with any probability.
    for (size_t i = probs.size(); i-- > 0;)
      if (probs[i] > 0) return static_cast<int32_t>(i);
    return 0;
  }
  std::vector<int32_t> ids = candidates(probs, config_.top_k, config_.top_p);
  double total = 0;
  for (int32_t id : ids) total += probs[id];
  double u = uniform(rng_) * total;
  for (int32_t id : ids) {
    u -= probs[id];
    if (u < 0) return id;
  }
  return ids.back();
}

std::vector<int32_t> Sampler::candidates(std::span<const float> probs, int32_t top_k, float top_p) {
  const size_t n = probs.size();
  std::vector<int32_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = static_cast<int32_t>(i);
  ByProb by{probs};
  size_t limit = top_k > 0 ? std::min(n, static_cast<size_t>(top_k)) : n;
  if (top_p >= 1.0f) {
    sort_front(ids, limit, by);
    ids.resize(limit);
    return ids;
  }
  // top-p is relative to what top-k kept (transformers renormalizes after top-k).
  double total = 0;
  if (limit == n) {
    for (float p : probs) total += p;
  } else {
    std::nth_element(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(limit), ids.end(), by);
    for (size_t i = 0; i < limit; ++i) total += probs[ids[i]];
    ids.resize(limit);
  }
  // The nucleus is usually small: sort a few hundred first, everything only if needed.
  size_t sorted = std::min<size_t>(ids.size(), 256);
  sort_front(ids, sorted, by);
  double cumulative = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i == sorted) {
      sorted = ids.size();
      std::sort(ids.begin() + static_cast<std::ptrdiff_t>(i), ids.end(), by);
    }
    cumulative += probs[ids[i]];
    if (cumulative >= top_p * total) {
      ids.resize(i + 1);
      break;
    }
  }
  return ids;
}

void Sampler::apply_repetition_penalty(std::span<float> logits, std::span<const int32_t> history,
                                       float penalty) {
  // Each token once, however often it occurred, as transformers' gather/scatter does.
  std::vector<bool> seen(logits.size(), false);
  for (int32_t id : history) {
    if (id < 0 || static_cast<size_t>(id) >= logits.size() || seen[id]) continue;
    seen[id] = true;
    float& l = logits[id];
    l = l > 0 ? l / penalty : l * penalty;
  }
}

int32_t Sampler::argmax(std::span<const float> logits) {
  MLCC_CHECK(!logits.empty(), "argmax of no logits");
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

std::vector<float> Sampler::softmax(std::span<const float> logits, float temperature) {
  MLCC_CHECK(temperature > 0.0f, "softmax needs a positive temperature");
  float max = *std::max_element(logits.begin(), logits.end());
  std::vector<float> out(logits.size());
  double sum = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    out[i] = std::exp((logits[i] - max) / temperature);
    sum += out[i];
  }
  for (float& p : out) p = static_cast<float>(p / sum);
  return out;
}

}  // namespace mlcc
