// mlcc: the compiler's command line. Today it has `demo` (compile the foundation kernels
// for this CPU and check them against the interpreter) and `targets`; `compile` and
// `convert-weight` arrive with the model compiler.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "runtime/error.h"
#include "runtime/version.h"
#include "targets/target.h"
#include "tools/kernel_check.h"

using namespace mlcc;

namespace {

int run_demo(uint64_t seed, int repeat) {
  Target cpu = Target::host_cpu();
  std::printf("mlcc %s demo: kernels built from the tensor IR for %s (%s)\n", version_string(),
              cpu.str().c_str(), cpu.mcpu.c_str());
  std::printf("each kernel: CPU schedule compiled with LLVM and run; GPU schedule run by the\n"
              "interpreter; both compared with the interpreter on the unscheduled definition.\n\n");
  std::printf("| kernel | shape | CPU rel. error | GPU-schedule rel. error | CPU time | "
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mlcc: a portable compiler for large language models"};
  app.set_version_flag("--version", version_string());
  app.require_subcommand(1);

  uint64_t seed = 42;
  int repeat = 20;
  CLI::App* demo = app.add_subcommand(
      "demo", "Compile the foundation kernels for this CPU, run them and check them against "
              "the interpreter");
  demo->add_option("--seed", seed, "Seed of the random inputs")->capture_default_str();
  demo->add_option("--repeat", repeat, "Timed runs per kernel (the median is shown)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

  std::string target_spec = "cpu";
  CLI::App* targets = app.add_subcommand("targets", "Show what a target string resolves to");
  targets->add_option("target", target_spec, "e.g. cpu, \"cuda -arch=sm_90\"")
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  try {
    if (*demo) return run_demo(seed, repeat);
    if (*targets) {
      Target t = Target::parse(target_spec);
      std::printf("target: %s\ntriple: %s\ncpu: %s\nfeatures: %s\nwarp size: %d\n"
                  "max threads per block: %d\nshared memory: %d bytes\nvector bits: %d\n",
                  t.str().c_str(), t.triple.c_str(), t.mcpu.c_str(), t.features.c_str(),
                  t.warp_size, t.max_threads_per_block, t.max_shared_memory, t.vector_bits);
      return 0;
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "mlcc: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
