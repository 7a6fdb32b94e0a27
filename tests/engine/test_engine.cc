// The generation engine on a tiny random Llama compiled for the CPU: greedy text against
// the reference forward pass's argmax, seeded sampling, top-k/top-p limits, repetition
// penalty, stop tokens and strings, a full context window, multi-turn continuation and
// statistics.
#include <algorithm>
#include <catch2/catch.hpp>
#include <set>

#include "runtime/engine.h"
#include "runtime/error.h"
#include "runtime/sampler.h"
#include "tests/engine/engine_test_util.h"

using namespace mlcc;

namespace {

const std::vector<int32_t> kPrompt = {1,  17, 42,  99, 3,  150, 8,  77,  5, 31,
                                      64, 12, 140, 4,  90, 33,  21, 300, 7, 250};

// What the reference forward pass generates greedily, with CTRL's penalty when not 1.
std::vector<int32_t> reference_greedy(const testing::TinyModel& t,
                                      const std::vector<int32_t>& prompt, size_t count,
                                      float penalty = 1.0f) {
  testing::ReferenceLlama ref(t.config, t.weights);
  std::vector<float> logits;
  std::vector<int32_t> history = prompt;
  for (int32_t id : prompt) logits = ref.step(id);
  std::vector<int32_t> out;
  while (out.size() < count) {
    Sampler::apply_repetition_penalty(logits, history, penalty);
    int32_t next = Sampler::argmax(logits);
    out.push_back(next);
    history.push_back(next);
    logits = ref.step(next);
  }
  return out;
}

GenerationConfig config(float temperature, int64_t max_new_tokens) {
  GenerationConfig g;
  g.sampling.temperature = temperature;
  g.sampling.top_p = 1.0f;
  g.max_new_tokens = max_new_tokens;
  return g;
}

struct Generated {
  std::vector<int32_t> ids;
  std::string text;
  std::vector<std::string> pieces;
  std::string finish_reason;
};

Generated run(testing::TinyModel& t, const Tokenizer* tok, const std::vector<int32_t>& prompt,
              const GenerationConfig& g) {
  t.model->reset();
  Engine engine(*t.model, tok);
  Generated out;
  out.ids = engine.generate(prompt, g, [&](const std::string& piece) {
    out.text += piece;
    out.pieces.push_back(piece);
  });
  out.finish_reason = engine.stats().finish_reason;
  return out;
}

testing::TinyModel& tiny() {
  static std::unique_ptr<testing::TinyModel> t = testing::make_tiny_model();
  return *t;
}

}  // namespace

TEST_CASE("greedy generation equals the reference forward pass's argmax loop", "[engine]") {
  testing::TinyModel& t = tiny();
  // 20 prompt tokens in prefill chunks of 16.
  Generated g = run(t, nullptr, kPrompt, config(0.0f, 24));
  std::vector<int32_t> want = reference_greedy(t, kPrompt, 24);
  CHECK(g.ids == want);
  CHECK(g.finish_reason == "max_new_tokens");
  CHECK(std::set<int32_t>(want.begin(), want.end()).size() > 3);  // not one token repeated
  CHECK(t.model->position() == static_cast<int64_t>(kPrompt.size() + 23));
}

TEST_CASE("seeded sampling repeats with the same seed and differs with another", "[engine]") {
  testing::TinyModel& t = tiny();
  GenerationConfig g = config(1.5f, 32);
  g.sampling.seed = 7;
  std::vector<int32_t> a = run(t, nullptr, kPrompt, g).ids;
  std::vector<int32_t> b = run(t, nullptr, kPrompt, g).ids;
  CHECK(a == b);
  g.sampling.seed = 8;
  std::vector<int32_t> c = run(t, nullptr, kPrompt, g).ids;
  CHECK(a != c);
  CHECK(a != run(t, nullptr, kPrompt, config(0.0f, 32)).ids);
}

TEST_CASE("top-k 1 and a tiny top-p sample what greedy picks", "[engine]") {
  testing::TinyModel& t = tiny();
  std::vector<int32_t> greedy = run(t, nullptr, kPrompt, config(0.0f, 16)).ids;
  GenerationConfig g = config(1.0f, 16);
  g.sampling.top_k = 1;
  g.sampling.seed = 3;
  CHECK(run(t, nullptr, kPrompt, g).ids == greedy);
  g.sampling.top_k = 0;
  g.sampling.top_p = 1e-6f;
  CHECK(run(t, nullptr, kPrompt, g).ids == greedy);
}

TEST_CASE("the repetition penalty applies to every token of the sequence", "[engine]") {
  testing::TinyModel& t = tiny();
  GenerationConfig g = config(0.0f, 24);
  g.sampling.repetition_penalty = 1.5f;
  std::vector<int32_t> got = run(t, nullptr, kPrompt, g).ids;
  CHECK(got == reference_greedy(t, kPrompt, 24, 1.5f));
  CHECK(got != reference_greedy(t, kPrompt, 24));
}

TEST_CASE("a stop token ends generation and is not returned", "[engine]") {
  testing::TinyModel& t = tiny();
  testing::LetterTokenizer tok(320);
  Generated free_run = run(t, &tok, kPrompt, config(0.0f, 24));
  // The first token that did not occur before, past the start.
  size_t at = 3;
  while (std::count(free_run.ids.begin(), free_run.ids.begin() + at, free_run.ids[at]) != 0) ++at;
  REQUIRE(at < free_run.ids.size());
  GenerationConfig g = config(0.0f, 24);
  g.stop_token_ids = {free_run.ids[at]};
  Generated stopped = run(t, &tok, kPrompt, g);
  CHECK(stopped.ids == std::vector<int32_t>(free_run.ids.begin(), free_run.ids.begin() + at));
  CHECK(stopped.finish_reason == "stop token");
  CHECK(stopped.text == tok.decode(stopped.ids));
  // ignore_stops runs through it.
  g.ignore_stops = true;
  std::vector<int32_t> through = run(t, &tok, kPrompt, g).ids;
  REQUIRE(through.size() >= free_run.ids.size());
  CHECK(std::equal(free_run.ids.begin(), free_run.ids.end(), through.begin()));
}

TEST_CASE("a stop string ends the text before it; nothing of it is streamed", "[engine]") {
  testing::TinyModel& t = tiny();
  testing::LetterTokenizer tok(320);
  Generated free_run = run(t, &tok, kPrompt, config(0.0f, 32));
  REQUIRE(free_run.text.size() > 12);
  CHECK(free_run.text == tok.decode(free_run.ids));
  const std::string stop = free_run.text.substr(free_run.text.size() / 2, 3);
  const size_t first = free_run.text.find(stop);
  GenerationConfig g = config(0.0f, 32);
  g.stop_strings = {"never appears", stop};
  Generated stopped = run(t, &tok, kPrompt, g);
  CHECK(stopped.text == free_run.text.substr(0, first));
  CHECK(stopped.finish_reason == "stop string");
  CHECK(stopped.ids.size() < free_run.ids.size());
  // A stop string that never completes holds nothing back at the end.
  g.stop_strings = {free_run.text.substr(0, 2) + "#"};
  CHECK(run(t, &tok, kPrompt, g).text == free_run.text);
}

TEST_CASE("a full context window ends generation; a prompt that cannot fit is refused",
          "[engine]") {
  testing::TinyModel& t = tiny();
  const int64_t window = t.model->manifest().context_window;
  REQUIRE(window == 64);
  std::vector<int32_t> prompt(60, 5);
  GenerationConfig g = config(0.0f, -1);
  t.model->reset();
  Engine engine(*t.model, nullptr);
  std::vector<int32_t> out = engine.generate(prompt, g);
  // Four decode steps fill positions 61..64; the fifth token comes from the last of them.
  CHECK(out.size() == 5);
  CHECK(engine.stats().finish_reason == "context window full");
  CHECK(t.model->position() == 64);
  try {
    engine.generate({7}, g);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("the prompt has 1 token and the context window has 0 free "
                                     "of 64") != std::string::npos);
  }
  t.model->reset();
  try {
    engine.generate(std::vector<int32_t>(65, 5), g);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("the prompt has 65 tokens and the context window has 64 "
                                     "free of 64") != std::string::npos);
  }
  CHECK(t.model->position() == 0);  // nothing ran
}

TEST_CASE("a reply cut short is completed in the KV cache by the next turn", "[engine]") {
  testing::TinyModel& t = tiny();
  const std::vector<int32_t> first(kPrompt.begin(), kPrompt.begin() + 10);
  const std::vector<int32_t> second(kPrompt.begin() + 10, kPrompt.end());
  t.model->reset();
  Engine engine(*t.model, nullptr);
  std::vector<int32_t> reply = engine.generate(first, config(0.0f, 5));
  std::vector<int32_t> next = engine.generate(second, config(0.0f, 6));
  // The same as one pass over everything the conversation holds.
  std::vector<int32_t> whole = first;
  whole.insert(whole.end(), reply.begin(), reply.end());
  whole.insert(whole.end(), second.begin(), second.end());
  CHECK(next == reference_greedy(t, whole, 6));
  CHECK(engine.stats().prefill_tokens == static_cast<int64_t>(second.size() + 1));
}

TEST_CASE("statistics count prefill and decode tokens and their time", "[engine]") {
  testing::TinyModel& t = tiny();
  t.model->reset();
  Engine engine(*t.model, nullptr);
  std::vector<int32_t> out = engine.generate(kPrompt, config(0.0f, 12));
  const GenerationStats& s = engine.stats();
  CHECK(out.size() == 12);
  CHECK(s.prefill_tokens == static_cast<int64_t>(kPrompt.size()));
  CHECK(s.decode_tokens == 11);
  CHECK(s.prefill_seconds > 0);
  CHECK(s.decode_seconds > 0);
  CHECK(s.prefill_tokens_per_second() > 0);
  CHECK(s.decode_tokens_per_second() ==
        Approx(static_cast<double>(s.decode_tokens) / s.decode_seconds));
  CHECK_THROWS_AS(engine.generate({}, config(0.0f, 4)), Error);
  CHECK_THROWS_AS(engine.generate({1}, config(0.0f, 0)), Error);
}
