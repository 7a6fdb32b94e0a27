// The compiler's subcommands of `mlcc`: `compile` (a model config to one library), `demo`
// (compile the foundation kernels for this CPU and check them against the interpreter) and
// `targets` (what a target string resolves to).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "models/llama_config.h"
#include "runtime/version.h"
#include "targets/target.h"
#include "tools/commands.h"
#include "tools/compile_model.h"
#include "tools/kernel_check.h"

namespace mlcc::tools {

namespace {

int run_demo(uint64_t seed, int repeat) {
  Target cpu = Target::host_cpu();
  std::printf("mlcc %s demo: kernels built from the tensor IR for %s (%s)\n", version_string(),
              cpu.str().c_str(), cpu.mcpu.c_str());
  std::printf(
      "each kernel: CPU schedule compiled with LLVM and run; GPU "
      "schedule run by the\n"
      "interpreter; both compared with the interpreter on the "
      "unscheduled definition.\n\n");
  std::printf(
      "| kernel | shape | CPU rel. error | GPU-schedule rel. error | "
      "CPU time | "
      "interpreter time | result |\n|---|---|---|---|---|---|---|\n");
  int failed = 0, passed = 0;
  for (const check::KernelCase& c : check::standard_cases()) {
    check::CaseResult r = check::check_case(c, seed, repeat);
    bool ok = r.passed();
    (ok ? passed : failed)++;
    std::printf("| %s | %s | %.2e | %.2e | %.3f ms | %.1f ms | %s |\n", r.name.c_str(),
                r.shape.c_str(), r.cpu_error, r.gpu_schedule_error, r.cpu_ms, r.interpreter_ms,
                ok ? "pass" : "FAIL");
    std::fflush(stdout);
  }
  std::printf("\n%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}

std::string human_bytes(int64_t b) {
  char buf[32];
  if (b >= (int64_t{1} << 30))
    std::snprintf(buf, sizeof buf, "%.2f GiB", b / double(1 << 30));
  else
    std::snprintf(buf, sizeof buf, "%.1f MiB", b / double(1 << 20));
  return buf;
}

// MLC-LLM's naming: NAME-QUANT-TARGET.so beside the working directory.
std::string default_output(const std::string& config, const CompileOptions& o) {
  std::filesystem::path p(config);
  std::string stem = std::filesystem::is_directory(p) ? p.filename().string() : p.stem().string();
  return stem + "-" + o.quantization + "-" + target_kind_name(Target::parse(o.target).kind) + ".so";
}

int run_compile(const std::string& config_path, CompileOptions o, std::string output) {
  auto t0 = std::chrono::steady_clock::now();
  models::LlamaConfig config = models::load_config(config_path);
  o = resolve_options(config, o);
  if (output.empty()) output = default_output(config_path, o);
  std::filesystem::path parent = std::filesystem::path(output).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  std::printf("mlcc compile: %s (%s, %lld layers, hidden %lld, vocab %lld)\n", config_path.c_str(),
              config.architecture.c_str(), (long long)config.num_layers,
              (long long)config.hidden_size, (long long)config.vocab_size);
  std::printf("  target %s, %s, context window %lld, prefill chunk %lld\n",
              Target::parse(o.target).str().c_str(), o.quantization.c_str(),
              (long long)o.context_window, (long long)o.prefill_chunk_size);
  std::fflush(stdout);
  CompileSummary s = compile_model(config, o, output);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("  kernels: %lld\n", (long long)s.num_kernels);
  std::printf(
      "  memory plan: parameters %s, activations %s, KV cache (%lld "
      "tokens) %s\n",
      human_bytes(s.param_bytes).c_str(), human_bytes(s.activation_bytes).c_str(),
      (long long)s.context_window, human_bytes(s.kv_cache_bytes).c_str());
  std::printf("wrote %s in %.1f s\n", output.c_str(), secs);
  return 0;
}

}  // namespace

std::vector<Command> add_compiler_commands(CLI::App& app) {
  struct Options {
    uint64_t seed = 42;
    int repeat = 20;
    CompileOptions copts;
    std::string config_path, output;
    std::string target_spec = "cpu";
  };
  auto o = std::make_shared<Options>();
  CLI::App* demo = app.add_subcommand("demo",
                                      "Compile the foundation kernels for this CPU, "
                                      "run them and check them against "
                                      "the interpreter");
  demo->add_option("--seed", o->seed, "Seed of the random inputs")->capture_default_str();
  demo->add_option("--repeat", o->repeat, "Timed runs per kernel (the median is shown)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

  CLI::App* compile =
      app.add_subcommand("compile",
                         "Compile a model (config.json, a directory holding one, or a llama2.c "
                         "checkpoint) into one library for a target");
  compile->add_option("config", o->config_path, "config.json, model directory or llama2.c .bin")
      ->required();
  compile
      ->add_option("--target", o->copts.target,
                   "cpu, cuda, rocm, vulkan, \"cuda -arch=sm_90\", \"rocm -mcpu=gfx942\" "
                   "(gfx1100, gfx1030, gfx90a), \"vulkan -subgroup=32\" (mlcc devices lists "
                   "each device's target)")
      ->capture_default_str();
  compile->add_option("--quantization", o->copts.quantization, "q4f16_1, q4f32_1, q0f16 or q0f32")
      ->capture_default_str();
  compile->add_option("--context-window", o->copts.context_window,
                      "Longest sequence, KV cache size (default: max_position_embeddings, at "
                      "most 8192)");
  compile->add_option("--prefill-chunk-size", o->copts.prefill_chunk_size,
                      "Most tokens one prefill call takes (default: 2048 or "
                      "the context window)");
  compile->add_option("-o,--output", o->output, "Library to write (default NAME-QUANT-TARGET.so)");
  compile->add_option("--dump-ir", o->copts.dump_ir,
                      "Write the IR after each pass into this directory");

  CLI::App* targets = app.add_subcommand("targets", "Show what a target string resolves to");
  targets->add_option("target", o->target_spec, "e.g. cpu, \"cuda -arch=sm_90\"")
      ->capture_default_str();

  auto run_targets = [o] {
    Target t = Target::parse(o->target_spec);
    std::printf(
        "target: %s\ntriple: %s\ncpu: %s\nfeatures: %s\nwarp size: %d\n"
        "max threads per block: %d\nshared memory: %d bytes\nvector bits: %d\n",
        t.str().c_str(), t.triple.c_str(), t.mcpu.c_str(), t.features.c_str(), t.warp_size,
        t.max_threads_per_block, t.max_shared_memory, t.vector_bits);
    return 0;
  };
  return {{compile, [o] { return run_compile(o->config_path, o->copts, o->output); }},
          {demo, [o] { return run_demo(o->seed, o->repeat); }},
          {targets, run_targets}};
}

}  // namespace mlcc::tools
