// The model compiler behind `mlcc compile`: config -> graph (models/) -> graph
// passes -> kernels compiled for the target -> one library
// (runtime/library_format.h). Tests call it directly.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "models/llama_config.h"
#include "passes/graph/program.h"

namespace mlcc {

struct CompileOptions {
  std::string target = "cpu";
  std::string quantization = "q4f16_1";
  int64_t context_window = 0;      // 0: min(max_position_embeddings, 8192, sliding_window)
  int64_t prefill_chunk_size = 0;  // 0: min(2048, context window)
  std::string dump_ir;             // directory for the IR after each pass
  bool time_passes = false;        // also on with MLCC_TIME_PASSES=1
};

// The options with defaults filled in and checked against the config; errors
// name the option and the config field.
CompileOptions resolve_options(const models::LlamaConfig& config, CompileOptions o);

// The graph built and run through every graph pass.
graph::Program compile_program(const models::LlamaConfig& config, const CompileOptions& options);

// The library manifest of a compiled program (without "kernels": the writer
// adds them).
nlohmann::json make_manifest(const graph::Program& p, const models::LlamaConfig& config);

struct CompileSummary {
  int64_t num_kernels = 0;
  int64_t param_bytes = 0, activation_bytes = 0, kv_cache_bytes = 0;
  int64_t context_window = 0, prefill_chunk_size = 0;
};
// Everything: writes the library to output (atomically; nothing is left on
// failure).
CompileSummary compile_model(const models::LlamaConfig& config, const CompileOptions& options,
                             const std::string& output);

}  // namespace mlcc
