// Chat on a model directory written by the test (tensor cache, mlcc-chat-config.json,
// llama2.c tokenizer) and the tiny compiled library: generation through the template and
// tokenizer, MLC-LLM's path lookup, the library/config check, overrides, random weights
// and statistics text; and the errors of each.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <regex>

#include "runtime/chat.h"
#include "runtime/error.h"
#include "runtime/model.h"
#include "runtime/tokenizer.h"
#include "tests/engine/engine_test_util.h"

using namespace mlcc;
namespace fs = std::filesystem;

namespace {

struct Fixture {
  std::unique_ptr<testing::TinyModel> tiny = testing::make_tiny_model(128, 16);
  std::string dir = tiny->dir.path + "/dist/tiny";
  Fixture() { testing::write_model_dir(dir, *tiny->model, tiny->config, tiny->weights); }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

// Designated initializers of ChatOptions draw -Wmissing-field-initializers from GCC.
ChatOptions options(const std::string& model, const std::string& lib = "",
                    nlohmann::json overrides = nlohmann::json::object()) {
  ChatOptions o;
  o.model = model;
  o.model_lib = lib;
  o.overrides = std::move(overrides);
  return o;
}

std::string error_of(const ChatOptions& o) {
  try {
    Chat::open(o);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// Runs `f` with the working directory at `dir`.
template <typename F>
void in_directory(const std::string& dir, F f) {
  const fs::path old = fs::current_path();
  fs::current_path(dir);
  try {
    f();
  } catch (...) {
    fs::current_path(old);
    throw;
  }
  fs::current_path(old);
}

}  // namespace

TEST_CASE("Chat generates from BOS alone as the engine does, and counts it", "[chat]") {
  Fixture& f = fixture();
  auto chat = Chat::open(options(f.dir, f.tiny->lib));
  REQUIRE(chat->tokenizer() != nullptr);
  CHECK(chat->tokenizer()->kind() == "llama2c");
  chat->generation_config().max_new_tokens = 20;
  std::string streamed;
  std::string reply = chat->generate("", [&](const std::string& p) { streamed += p; });
  CHECK(reply == streamed);

  // The same by hand: BOS, greedy, the tokenizer's stop id.
  f.tiny->model->reset();
  Engine engine(*f.tiny->model, chat->tokenizer());
  GenerationConfig g;
  g.sampling.temperature = 0;
  g.max_new_tokens = 20;
  std::vector<int32_t> ids = engine.generate({1}, g);
  CHECK(reply == chat->tokenizer()->decode(ids));
  CHECK(chat->stats().prefill_tokens == 1);

  CHECK(std::regex_match(chat->stats_text(),
                         std::regex(R"(prefill: \d+\.\d tok/s, decode: \d+\.\d tok/s)")));
  CHECK(chat->stats_text(true).find("tokens in") != std::string::npos);

  // A second turn appends; reset starts over and gives the same reply again.
  const int64_t after_first = chat->model().position();
  chat->generate(" the");
  CHECK(chat->model().position() > after_first);
  chat->reset();
  CHECK(chat->model().position() == 0);
  CHECK(chat->generate("") == reply);
}

TEST_CASE("Chat finds dist/NAME and dist/libs/NAME-cpu.so as MLC-LLM does", "[chat]") {
  Fixture& f = fixture();
  fs::create_directories(f.tiny->dir.path + "/dist/libs");
  fs::copy_file(f.tiny->lib, f.tiny->dir.path + "/dist/libs/tiny-cpu.so",
                fs::copy_options::overwrite_existing);
  in_directory(f.tiny->dir.path, [&] {
    auto chat = Chat::open(options("tiny"));
    CHECK(chat->model_dir() == "dist/tiny");
    CHECK(chat->model_lib() == "dist/libs/tiny-cpu.so");
    CHECK(chat->model().device().kind() == "cpu");
    std::string msg = error_of(options("nope"));
    CHECK(msg.find("model 'nope' not found") != std::string::npos);
    CHECK(msg.find("dist/prebuilt/nope") != std::string::npos);
  });
  fs::remove(f.tiny->dir.path + "/dist/libs/tiny-cpu.so");
  std::string msg = error_of(options(f.dir));
  CHECK(msg.find("tiny-cpu.so") != std::string::npos);
  CHECK(msg.find("--model-lib") != std::string::npos);
}

TEST_CASE("Chat refuses a library built for another model config or quantization", "[chat]") {
  Fixture& f = fixture();
  const std::string other = f.tiny->dir.path + "/other";
  fs::create_directories(other);
  for (const char* file : {"tensor-cache.json", "params_shard_0.bin", "tokenizer.bin"})
    fs::copy_file(f.dir + "/" + file, other + "/" + file, fs::copy_options::overwrite_existing);
  ChatConfig cc = ChatConfig::read(f.dir);
  cc.model_config["hidden_size"] = 256;
  cc.write(other);
  std::string msg = error_of(options(other, f.tiny->lib));
  CHECK(msg.find("hidden_size: 256 in " + other + "/mlcc-chat-config.json but 64 in " +
                 f.tiny->lib) != std::string::npos);

  cc = ChatConfig::read(f.dir);
  cc.quantization = "q4f16_1";
  cc.write(other);
  msg = error_of(options(other, f.tiny->lib));
  CHECK(msg.find("quantization: q4f16_1 in " + other + "/mlcc-chat-config.json but q0f32 in") !=
        std::string::npos);
}

TEST_CASE("Chat errors: missing directory, library, unknown device, template, override", "[chat]") {
  Fixture& f = fixture();
  std::string msg = error_of(options("/no/such/model", f.tiny->lib));
  CHECK(msg.find("/no/such/model") != std::string::npos);
  msg = error_of(options(f.dir, "/no/such/lib.so"));
  CHECK(msg.find("model library '/no/such/lib.so' not found") != std::string::npos);
  ChatOptions tpu = options(f.dir, f.tiny->lib);
  tpu.device = "tpu";
  msg = error_of(tpu);
  CHECK(msg.find("unknown device 'tpu'") != std::string::npos);
  msg = error_of(options(f.dir, f.tiny->lib, {{"conv_template", "x"}}));
  CHECK(msg.find("unknown conversation template 'x'") != std::string::npos);
  msg = error_of(options(f.dir, f.tiny->lib, {{"temprature", 0}}));
  CHECK(msg.find("unknown field 'temprature'") != std::string::npos);
  msg = error_of(options(f.dir, f.tiny->lib, {{"top_k", "many"}}));
  CHECK(msg.find("top_k") != std::string::npos);
}

TEST_CASE("Chat overrides change the template and the sampling defaults", "[chat]") {
  Fixture& f = fixture();
  auto chat = Chat::open(options(f.dir, f.tiny->lib, {{"conv_template", "chatml"}, {"top_k", 5}}));
  CHECK(chat->chat_config().conv_template == "chatml");
  CHECK(chat->generation_config().sampling.top_k == 5);
  CHECK(chat->generation_config().stop_strings == std::vector<std::string>{"<|im_end|>"});
}

TEST_CASE("Chat with random weights benchmarks token ids; benchmark_generate decodes text",
          "[chat]") {
  Fixture& f = fixture();
  ChatOptions random = options("", f.tiny->lib);
  random.random_weights = true;
  auto chat = Chat::open(random);
  CHECK(chat->tokenizer() == nullptr);
  CHECK(chat->model().missing_params().empty());
  std::vector<int32_t> out = chat->benchmark_generate_ids({1}, 9);
  CHECK(out.size() == 9);
  CHECK(chat->stats().decode_tokens == 8);
  CHECK(chat->stats().finish_reason == "max_new_tokens");
  // Random weights give logits that are finite and not all alike.
  std::vector<float> logits = chat->model().prefill({5});
  CHECK(std::all_of(logits.begin(), logits.end(), [](float x) { return std::isfinite(x); }));
  CHECK(*std::max_element(logits.begin(), logits.end()) >
        *std::min_element(logits.begin(), logits.end()));
  CHECK_THROWS_AS(chat->generate("Hi"), Error);
  CHECK_THROWS_AS(chat->benchmark_generate_ids({1}, 200), Error);  // past the window of 128

  auto text_chat = Chat::open(options(f.dir, f.tiny->lib));
  std::string text = text_chat->benchmark_generate("the", 12);
  CHECK(text_chat->stats().decode_tokens == 11);
  CHECK(!text.empty());
}
