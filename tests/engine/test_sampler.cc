// The sampler's host-side steps on hand-made logits: repetition penalty as CTRL and
// transformers apply it, first-maximum argmax, softmax, top-k and top-p candidate sets,
// seeded draws, and the checks of the settings.
#include <catch2/catch.hpp>
#include <cmath>

#include "runtime/error.h"
#include "runtime/sampler.h"

using namespace mlcc;

TEST_CASE("repetition penalty divides positive and multiplies negative logits of seen tokens",
          "[sampler]") {
  std::vector<float> logits = {2.0f, -2.0f, 1.0f, 0.5f};
  // Token 1 twice: penalized once, as transformers' gather/scatter does.
  std::vector<int32_t> history = {0, 1, 1};
  Sampler::apply_repetition_penalty(logits, history, 2.0f);
  CHECK(logits == std::vector<float>{1.0f, -4.0f, 1.0f, 0.5f});
  // Ids outside the vocabulary are ignored rather than written.
  std::vector<int32_t> odd = {7, -1};
  Sampler::apply_repetition_penalty(logits, odd, 2.0f);
  CHECK(logits == std::vector<float>{1.0f, -4.0f, 1.0f, 0.5f});
  // Below 1 the penalty encourages repetition.
  std::vector<float> l2 = {2.0f, -2.0f};
  Sampler::apply_repetition_penalty(l2, history, 0.5f);
  CHECK(l2 == std::vector<float>{4.0f, -1.0f});
}

TEST_CASE("argmax takes the first maximum; softmax follows the temperature", "[sampler]") {
  std::vector<float> logits = {1.0f, 3.0f, 3.0f, 2.0f};
  CHECK(Sampler::argmax(logits) == 1);
  std::vector<float> p = Sampler::softmax(logits, 1.0f);
  double sum = 0;
  for (float x : p) sum += x;
  CHECK(sum == Approx(1.0));
  CHECK(p[1] / p[0] == Approx(std::exp(2.0)));
  std::vector<float> cold = Sampler::softmax(logits, 0.5f);
  CHECK(cold[1] / cold[0] == Approx(std::exp(4.0)));
}

TEST_CASE("top-k and top-p keep the most probable tokens", "[sampler]") {
  std::vector<float> probs = {0.1f, 0.4f, 0.2f, 0.3f};
  CHECK(Sampler::candidates(probs, 2, 1.0f) == std::vector<int32_t>{1, 3});
  CHECK(Sampler::candidates(probs, 0, 1.0f) == std::vector<int32_t>{1, 3, 2, 0});
  CHECK(Sampler::candidates(probs, 0, 0.6f) == std::vector<int32_t>{1, 3});
  CHECK(Sampler::candidates(probs, 0, 0.39f) == std::vector<int32_t>{1});
  CHECK(Sampler::candidates(probs, 0, 0.41f) == std::vector<int32_t>{1, 3});
  CHECK(Sampler::candidates(probs, 0, 1e-6f) == std::vector<int32_t>{1});
  // Ties: the lower id first.
  std::vector<float> tied = {0.25f, 0.25f, 0.5f};
  CHECK(Sampler::candidates(tied, 2, 1.0f) == std::vector<int32_t>{2, 0});
  // top-p is relative to what top-k kept: 0.6 of the 0.8 left is 0.48, which 0.5 covers.
  std::vector<float> p3 = {0.5f, 0.3f, 0.2f};
  CHECK(Sampler::candidates(p3, 2, 0.6f) == std::vector<int32_t>{0});
  CHECK(Sampler::candidates(p3, 0, 0.6f) == std::vector<int32_t>{0, 1});
}

TEST_CASE("top-p over a flat distribution keeps more than the first few hundred", "[sampler]") {
  std::vector<float> flat(1000, 0.001f);
  std::vector<int32_t> kept = Sampler::candidates(flat, 0, 0.4995f);
  REQUIRE(kept.size() == 500);
  for (int32_t i = 0; i < 500; ++i) CHECK(kept[i] == i);
  CHECK(Sampler::candidates(flat, 700, 0.4995f).size() == 350);
}

TEST_CASE("draws follow the probabilities and repeat with the seed", "[sampler]") {
  SamplingConfig c;
  c.temperature = 1.0f, c.top_p = 1.0f, c.seed = 1234;
  std::vector<float> probs = {0.1f, 0.2f, 0.7f};
  Sampler a(c), b(c);
  std::vector<int> counts(3, 0);
  std::vector<int32_t> first, second;
  for (int i = 0; i < 20000; ++i) {
    first.push_back(a.sample(probs));
    second.push_back(b.sample(probs));
    ++counts[first.back()];
  }
  CHECK(first == second);
  CHECK(counts[0] / 20000.0 == Approx(0.1).margin(0.015));
  CHECK(counts[1] / 20000.0 == Approx(0.2).margin(0.015));
  CHECK(counts[2] / 20000.0 == Approx(0.7).margin(0.015));

  c.seed = 1235;
  Sampler other(c);
  std::vector<int32_t> third;
  for (int i = 0; i < 200; ++i) third.push_back(other.sample(probs));
  CHECK(third != std::vector<int32_t>(first.begin(), first.begin() + 200));

  // top-k 2 never draws the least probable token; tiny top-p always the most probable.
  c.top_k = 2;
  Sampler k2(c);
  for (int i = 0; i < 2000; ++i) CHECK(k2.sample(probs) != 0);
  c.top_k = 0, c.top_p = 1e-6f;
  Sampler nucleus(c);
  for (int i = 0; i < 100; ++i) CHECK(nucleus.sample(probs) == 2);
}

TEST_CASE("sampling settings out of range are refused by name", "[sampler]") {
  auto refused = [](SamplingConfig c, const std::string& field) {
    try {
      Sampler s(c);
    } catch (const Error& e) {
      return std::string(e.what()).find(field) != std::string::npos;
    }
    return false;
  };
  SamplingConfig c;
  c.temperature = -1.0f;
  CHECK(refused(c, "temperature"));
  c = SamplingConfig{};
  c.top_p = 0.0f;
  CHECK(refused(c, "top_p"));
  c.top_p = 1.5f;
  CHECK(refused(c, "top_p"));
  c = SamplingConfig{};
  c.top_k = -1;
  CHECK(refused(c, "top_k"));
  c = SamplingConfig{};
  c.repetition_penalty = 0.0f;
  CHECK(refused(c, "repetition_penalty"));
  CHECK_NOTHROW(Sampler(SamplingConfig{}));
}
