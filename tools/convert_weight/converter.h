// `mlcc convert-weight`: a checkpoint (Hugging Face directory, llama2.c .bin, GGUF) becomes
// a model directory — quantized parameter shards in MLC-LLM's tensor-cache layout,
// mlcc-chat-config.json and the tokenizer files — that the runtime loads beside a compiled
// library of the same config and quantization. Tensors stream through one at a time (a few
// MB of rows at a time), so memory stays small whatever the model's size; the directory is
// written under a temporary name and renamed into place only when everything succeeded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/chat_config.h"

namespace mlcc::convert {

struct ConvertOptions {
  std::string source;  // Hugging Face directory, llama2.c checkpoint or GGUF file
  std::string output;  // the model directory to create, e.g. dist/Llama-2-7b-q4f16_1
  std::string quantization = "q4f16_1";
  // A tokenizer file (tokenizer.model, tokenizer.json, tokenizer.bin, *.gguf) or a directory
  // holding some; replaces what the source brings. Required for llama2.c checkpoints.
  std::string tokenizer;
  bool no_tokenizer = false;  // convert without any tokenizer instead of failing
  std::string conv_template;  // "" guesses from the chat template
  int64_t context_window = 0, prefill_chunk_size = 0;  // 0: as `mlcc compile` resolves them
  bool force = false;                                  // replace a non-empty output directory
  int threads = 0;                                     // quantizing threads; 0: one per core
  bool progress = false;  // a progress bar on stderr, redrawn only when it is a terminal
};

struct ConvertSummary {
  std::string source_kind;  // "safetensors", "llama2.c", "gguf"
  int64_t num_tensors = 0;
  int64_t num_shards = 0;
  size_t bytes = 0;          // parameter bytes written
  int64_t num_elements = 0;  // parameter elements before quantization
  double seconds = 0;
  ChatConfig chat;
};

// Converts; throws mlcc::Error naming the file and tensor or field at fault, leaving no
// output directory behind (an existing one is left as it was).
ConvertSummary convert_weight(const ConvertOptions& options);

// "llama-3", "llama-2", "chatml" or "raw" for a Jinja chat template, by its markers.
std::string guess_conv_template(const std::string& chat_template);

}  // namespace mlcc::convert
