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

#include "runtime/chat_config.h"
#include "runtime/engine.h"

namespace mlcc {

class Model;
class Tokenizer;

struct ChatOptions {
  // A model directory, or a name looked up as MLC-LLM does: NAME, dist/NAME,
  // dist/prebuilt/NAME (relative to the working directory).
  std::string model;
  // The compiled library. Empty: looked up as MLC-LLM does, dist/libs/NAME-DEVICEKIND.so
  // and dist/prebuilt/lib/NAME-DEVICEKIND.so, NAME being the model directory's name.
  std::string model_lib;
  // "auto" (cuda:0 when the library is a cuda library and a CUDA driver is present, else
  // the library's target kind), "cpu", "cuda", "cuda:N".
  std::string device = "auto";
  // Fields of mlcc-chat-config.json to override (e.g. {"temperature": 0,
  // "conv_template": "raw"}); same names and types as the file.
  nlohmann::json overrides = nlohmann::json::object();
  // Called while weights load: (bytes done, bytes total).
  std::function<void(size_t, size_t)> load_progress;
  // Parameters filled with random values on the device instead of read from a model
  // directory (`mlcc bench --random-weights`); `model` may then be empty, and the
  // tokenizer is absent (generate() with text throws; benchmark_generate works on ids).
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
  // As MLC's benchmark_generate: prefill the prompt, then decode exactly generate_length
  // tokens ignoring stop tokens and strings. Returns the text. Resets the conversation
  // first.
  std::string benchmark_generate(const std::string& prompt, int64_t generate_length);
  // Forgets the conversation (and empties the KV cache). Statistics are kept.
  void reset();

  // The last generation's figures, as MLC prints them: "prefill: X tok/s, decode: Y tok/s";
  // verbose adds token counts and times.
  std::string stats_text(bool verbose = false) const;
  const GenerationStats& stats() const;

  GenerationConfig& generation_config();  // sampling, max_new_tokens, stops; editable
  const ChatConfig& chat_config() const;
  Model& model();
  const Tokenizer* tokenizer() const;  // nullptr with random weights
  const std::string& model_dir() const;
  const std::string& model_lib() const;

 private:
  Chat();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mlcc
