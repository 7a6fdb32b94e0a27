// A chat with one model: a model directory (weights, mlcc-chat-config.json, tokenizer) and
// a compiled library, opened on a device, with a conversation template and the generation
// engine (runtime/engine.h) underneath. mlcc-chat, `mlcc bench` and the Python ChatModule
// are thin layers over this class.
//
//   auto chat = mlcc::Chat::open({.model = "dist/stories", .model_lib = "dist/libs/s.so"});
//   chat->generate("Once upon a time", [](const std::string& piece) { fputs(...); });
//   std::puts(chat->stats_text().c_str());   // "prefill: 812.3 tok/s, decode: 95.1 tok/s"
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/chat_config.h"
#include "runtime/engine.h"

namespace mlcc {

class Model;
class Tokenizer;

struct ChatOptions {
  // A model directory, or a name looked up as MLC-LLM does: NAME, dist/NAME,
  // dist/prebuilt/NAME (relative to the working directory).
  std::string model;
  // The compiled library. Empty: looked up as MLC-LLM does, NAME-KIND.so in dist/libs,
  // dist/prebuilt/lib, the model directory and its sibling libs/, NAME being the model
  // directory's name and KIND the device's (for "auto" cuda, rocm, vulkan, then cpu).
  std::string model_lib;
  // "auto" (the library's target kind: a cuda library runs on cuda:0), "cpu", "cuda",
  // "cuda:N", "rocm", "rocm:N", "vulkan", "vulkan:N".
  std::string device = "auto";
  // Fields of mlcc-chat-config.json to override (e.g. {"temperature": 0,
  // "conv_template": "raw"}); same names and types as the file.
  nlohmann::json overrides = nlohmann::json::object();
  // Called while weights load: (bytes done, bytes total).
  std::function<void(size_t, size_t)> load_progress;
  // Parameters filled with random values instead of read from the model directory (`mlcc
  // bench --random-weights`): u32 words uniformly random, norm weights 1, other floats
  // about normal with a spread of 0.02. `model` may then be empty; without it there is no
  // tokenizer (text prompts throw; benchmark_generate_ids works).
  bool random_weights = false;
};

class Chat {
 public:
  // Resolves paths, loads the library on the device, checks that the model directory and
  // the library were built for the same model config and quantization (an mlcc::Error
  // naming both files and the first differing field otherwise), loads the weights and the
  // tokenizer. Every failure is one mlcc::Error naming the file and what was expected.
  static std::unique_ptr<Chat> open(const ChatOptions& options);
  ~Chat();

  // One user turn: the prompt is wrapped by the conversation template (the "raw" template
  // passes it unchanged, BOS first when the tokenizer has one), appended to the
  // conversation in the KV cache, and a reply generated with the current sampling
  // settings, streamed to on_text piece by piece (whole UTF-8 characters). Returns the
  // reply. Throws mlcc::Error when the context window would overflow, saying how many
  // tokens it has and needs.
  std::string generate(const std::string& prompt,
                       const std::function<void(const std::string&)>& on_text = {});
  // As MLC's benchmark_generate: resets the conversation, prefills the prompt (one turn
  // of the template), and generates exactly generate_length tokens ignoring stop tokens
  // and strings: the first from the prefill, the others by generate_length - 1 decode
  // steps. Returns their text.
  std::string benchmark_generate(const std::string& prompt, int64_t generate_length);
  // The same on token ids, without the conversation template: what `mlcc bench
  // --random-weights` runs, having no tokenizer. Returns the generated ids. Throws before
  // running when prompt and generated tokens do not fit in the context window.
  std::vector<int32_t> benchmark_generate_ids(const std::vector<int32_t>& prompt,
                                              int64_t generate_length);
  // Forgets the conversation (and empties the KV cache). Statistics are kept.
  void reset();

  // The last generation's figures, as MLC prints them: "prefill: X tok/s, decode: Y tok/s";
  // verbose adds token counts and times.
  std::string stats_text(bool verbose = false) const;
  const GenerationStats& stats() const;

  GenerationConfig& generation_config();  // sampling, max_new_tokens, stops; editable
  const ChatConfig& chat_config() const;
  Model& model();
  const Tokenizer* tokenizer() const;  // nullptr with random weights and no model directory
  const std::string& model_dir() const;
  const std::string& model_lib() const;

 private:
  Chat();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mlcc
