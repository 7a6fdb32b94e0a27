// The model compiler driver (tools/compile_model.h).
#include "tools/compile_model.h"

#include <algorithm>
#include <cstdlib>

#include "codegen/library_writer.h"
#include "models/llama.h"
#include "passes/graph/graph_pipeline.h"
#include "runtime/error.h"
#include "runtime/version.h"

namespace mlcc {

namespace {

nlohmann::json shape_json(const graph::TensorType& t) {
  nlohmann::json shape = nlohmann::json::array();
  for (const graph::Dim& d : t.shape) {
    if (d.is_symbolic())
      shape.push_back(d.symbol);
    else
      shape.push_back(d.value);
  }
  return shape;
}

nlohmann::json tensor_json(const std::string& name, const graph::TensorType& t) {
  return {{"name", name}, {"dtype", ir::to_string(t.dtype)}, {"shape", shape_json(t)}};
}

std::string result_name(const std::string& function, size_t i) {
  if (function == "embed") return "embeddings";
  if (function == "prefill" || function == "decode") return "logits";
  if (function == "softmax_with_temperature") return "probs";
  if (function == "argmax") return "token";
  return "result" + std::to_string(i);
}

}  // namespace

CompileOptions resolve_options(const models::LlamaConfig& config, CompileOptions o) {
  if (const char* t = std::getenv("MLCC_TIME_PASSES"); t && std::string(t) == "1")
    o.time_passes = true;
  kernels::Quantization::parse(o.quantization);  // throws naming the accepted values
  if (o.context_window < 0)
    throw Error("--context-window must be positive, got " + std::to_string(o.context_window));
  if (o.context_window == 0) {
    o.context_window = std::min<int64_t>(config.max_position_embeddings, 8192);
    if (config.sliding_window)
      o.context_window = std::min(o.context_window, *config.sliding_window);
  }
  if (config.sliding_window && *config.sliding_window < o.context_window)
    throw Error("the config's sliding_window is " + std::to_string(*config.sliding_window) +
                " tokens; mlcc has no sliding-window attention, so the context "
                "window (" +
                std::to_string(o.context_window) + ") must not exceed it: pass --context-window " +
                std::to_string(*config.sliding_window) + " or less");
  if (o.prefill_chunk_size < 0)
    throw Error("--prefill-chunk-size must be positive, got " +
                std::to_string(o.prefill_chunk_size));
  if (o.prefill_chunk_size == 0) o.prefill_chunk_size = std::min<int64_t>(2048, o.context_window);
  if (o.prefill_chunk_size > o.context_window)
    throw Error("--prefill-chunk-size " + std::to_string(o.prefill_chunk_size) +
                " exceeds the context window " + std::to_string(o.context_window));
  return o;
}

graph::Program compile_program(const models::LlamaConfig& config, const CompileOptions& options) {
  graph::Program p;
  p.target = Target::parse(options.target);
  p.quant = kernels::Quantization::parse(options.quantization);
  p.context_window = options.context_window;
  p.prefill_chunk_size = options.prefill_chunk_size;
  models::LlamaBuildOptions b;
  b.act_dtype = p.quant.act_dtype();
  b.context_window = options.context_window;
  b.prefill_chunk_size = options.prefill_chunk_size;
  p.module = models::build_llama(config, b);
  return graph::run_graph_pipeline(std::move(p), {options.dump_ir, options.time_passes});
}

nlohmann::json make_manifest(const graph::Program& p, const models::LlamaConfig& config) {
  nlohmann::json m;
  m["format_version"] = kLibraryFormatVersion;
  m["mlcc_version"] = version_string();
  m["target"] = p.target.str();
  m["target_kind"] = target_kind_name(p.target.kind);
  m["model"] = config.to_json();
  m["quantization"] = p.quant.name;
  m["context_window"] = p.context_window;
  m["prefill_chunk_size"] = p.prefill_chunk_size;

  // Every layer's cache has the same type; the first KV cache node describes them all.
  const graph::Node* cache = nullptr;
  for (const graph::Function& f : p.module.functions)
    for (const graph::Node& n : f.nodes)
      if (!cache && n.op == graph::OpKind::kKVCache) cache = &n;
  if (!cache) throw Error("make_manifest: the model has no KV cache");
  const auto& s = cache->outputs[0].shape;
  m["kv_cache"] = {
      {"num_layers", config.num_layers}, {"num_pages", s[0].value},
      {"num_kv_heads", s[2].value},      {"page_size", s[3].value},
      {"head_dim", s[4].value},          {"dtype", ir::to_string(cache->outputs[0].dtype)}};

  nlohmann::json params = nlohmann::json::array();
  for (const graph::ParamInfo& info : p.module.params)
    params.push_back(tensor_json(info.name, info.type));
  m["params"] = params;
  m["storages"] = p.memory.storages;
  m["memory_plan"] = {{"param_bytes", p.memory.param_bytes},
                      {"activation_bytes", p.memory.activation_bytes},
                      {"kv_cache_bytes", p.memory.kv_cache_bytes}};

  nlohmann::json functions = nlohmann::json::object();
  for (const graph::Function& f : p.module.functions) {
    const graph::VmFunction& vm = p.vm.at(f.name);
    nlohmann::json inputs = nlohmann::json::array(), outputs = nlohmann::json::array();
    for (const graph::Node& n : f.nodes)
      if (n.op == graph::OpKind::kInput)
        inputs.push_back(tensor_json(n.attr_str("name"), n.outputs[0]));
    for (size_t i = 0; i < f.results.size(); ++i)
      outputs.push_back(tensor_json(result_name(f.name, i), f.type(f.results[i])));
    functions[f.name] = {{"inputs", inputs},
                         {"scalars", vm.scalars},
                         {"outputs", outputs},
                         {"num_registers", vm.num_registers},
                         {"code", vm.code}};
  }
  m["functions"] = functions;
  return m;
}

CompileSummary compile_model(const models::LlamaConfig& config, const CompileOptions& options,
                             const std::string& output) {
  CompileOptions o = resolve_options(config, options);
  graph::Program p = compile_program(config, o);
  codegen::write_library(p.kernels, make_manifest(p, config), p.target, output);
  CompileSummary s;
  s.num_kernels = static_cast<int64_t>(p.kernels.size());
  s.param_bytes = p.memory.param_bytes;
  s.activation_bytes = p.memory.activation_bytes;
  s.kv_cache_bytes = p.memory.kv_cache_bytes;
  s.context_window = o.context_window;
  s.prefill_chunk_size = o.prefill_chunk_size;
  return s;
}

}  // namespace mlcc
