// mlcc-chat-config.json: what convert-weight writes beside the weights so that a model
// directory is self-describing — the model config, quantization, context window, prefill
// chunk size, tokenizer files, conversation template and sampling defaults. Field names
// follow MLC-LLM's mlc-chat-config.json where it has one.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mlcc {

inline constexpr const char* kChatConfigFile = "mlcc-chat-config.json";

struct ChatConfig {
  std::string model_type = "llama";
  nlohmann::json model_config;  // the normalized model config (models::to_json), as in a
                                // library manifest's "model"
  std::string quantization;     // "q4f16_1", ...
  int64_t context_window_size = 0;
  int64_t prefill_chunk_size = 0;
  std::vector<std::string> tokenizer_files;  // relative to the model directory
  std::string conv_template = "raw";         // "llama-2", "llama-3", "chatml", "raw"
  // Sampling defaults.
  float temperature = 0.7f;
  float top_p = 0.95f;
  int32_t top_k = 0;  // 0: off
  float repetition_penalty = 1.0f;
  int64_t max_new_tokens = -1;  // -1: until a stop token or the context window is full
  int32_t bos_token_id = -1, eos_token_id = -1;

  nlohmann::json to_json() const;
  // Throws mlcc::Error naming `origin` and the field when a field has the wrong type.
  // Missing optional fields keep their defaults; model_config and quantization are required.
  static ChatConfig from_json(const nlohmann::json& j, const std::string& origin);
  // Reads DIR/mlcc-chat-config.json.
  static ChatConfig read(const std::string& dir);
  // Writes DIR/mlcc-chat-config.json.
  void write(const std::string& dir) const;
};

}  // namespace mlcc
