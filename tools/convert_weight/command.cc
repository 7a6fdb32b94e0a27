// `mlcc convert-weight`: the command line over tools/convert_weight/converter.h.
//
//   mlcc convert-weight ./Llama-2-7b-hf --quantization q4f16_1 -o dist/Llama-2-7b-q4f16_1
//   mlcc convert-weight stories260K.bin --tokenizer tok512.bin --quantization q0f32 -o dist/s
//   mlcc convert-weight model.Q8_0.gguf --quantization q4f16_1 -o dist/m
#include <cstdio>

#include "tools/commands.h"
#include "tools/convert_weight/converter.h"

namespace mlcc::tools {

Command add_convert_weight_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "convert-weight",
      "Convert a Hugging Face directory (config.json + *.safetensors), a llama2.c checkpoint "
      "or a GGUF file into a model directory: quantized parameter shards (tensor-cache.json), "
      "mlcc-chat-config.json and the tokenizer");
  auto o = std::make_shared<convert::ConvertOptions>();
  cmd->add_option("source", o->source, "Hugging Face model directory, llama2.c .bin or .gguf")
      ->required();
  cmd->add_option("-o,--output", o->output, "output model directory, e.g. dist/NAME")->required();
  cmd->add_option("--quantization", o->quantization, "q4f16_1 (default), q4f32_1, q0f16, q0f32")
      ->check(CLI::IsMember({"q4f16_1", "q4f32_1", "q0f16", "q0f32"}));
  cmd->add_option("--tokenizer", o->tokenizer,
                  "tokenizer file (tokenizer.model, tokenizer.json, llama2.c tokenizer.bin, "
                  ".gguf) or a directory holding one; required for llama2.c checkpoints, "
                  "replaces the source's own otherwise");
  cmd->add_flag("--no-tokenizer", o->no_tokenizer,
                "convert even when no tokenizer is available (the model directory then needs "
                "one added before mlcc-chat can use it)");
  cmd->add_option("--conv-template", o->conv_template,
                  "llama-3, llama-2, chatml or raw (default: guessed from the chat template)");
  cmd->add_option("--context-window", o->context_window,
                  "context window to record (default as mlcc compile: "
                  "min(max_position_embeddings, 8192))");
  cmd->add_option("--prefill-chunk-size", o->prefill_chunk_size,
                  "prefill chunk size to record (default min(2048, context window))");
  cmd->add_flag("--force", o->force, "replace an existing non-empty output directory");
  cmd->add_option("--threads", o->threads, "quantizing threads (default: one per core)");
  return {cmd, [o] {
            o->progress = true;
            const convert::ConvertSummary s = convert::convert_weight(*o);
            std::printf(
                "convert-weight: %s (%s) -> %s: %lld tensors, %.1f MB in %lld shards, %s, "
                "%.2f bits/param, %.1f s\n",
                o->source.c_str(), s.source_kind.c_str(), o->output.c_str(),
                static_cast<long long>(s.num_tensors), static_cast<double>(s.bytes) / 1e6,
                static_cast<long long>(s.num_shards), o->quantization.c_str(),
                static_cast<double>(s.bytes) * 8.0 /
                    static_cast<double>(std::max<int64_t>(1, s.num_elements)),
                s.seconds);
            return 0;
          }};
}

}  // namespace mlcc::tools
