// Tests of the linear-layer kernels (kernels::linear): the quantization names, the
// parameter contract of llm_kernels.h, invalid specs, every case of check::linear_cases()
// (compiled CPU schedule and GPU schedule in the interpreter against the reference, fresh
// random inputs each run) and PTX for every GPU schedule, assembled by ptxas when present.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "codegen/llvm/codegen.h"
#include "passes/legalize/llm_kernels.h"
#include "passes/pipeline.h"
#include "runtime/error.h"
#include "tests/kernels/check_cases.h"
#include "tools/kernel_check.h"

using namespace mlcc;
using namespace mlcc::ir;

namespace {

kernels::LinearSpec spec(const char* quant, Expr rows, int64_t n, int64_t k, bool residual,
                         bool f32_out) {
  kernels::LinearSpec s;
  s.quant = kernels::Quantization::parse(quant);
  s.rows = rows;
  s.n = n;
  s.k = k;
  s.residual = residual;
  s.out_dtype = f32_out ? DataType::f32() : s.quant.act_dtype();
  return s;
}

void check_family(const std::string& prefix) {
  testing::check_cases(check::linear_cases(), prefix);
}

std::string ptxas_path() {
  const char* env = std::getenv("MLCC_PTXAS");
  return env ? env : "/usr/local/cuda/bin/ptxas";
}

// Assembles `ptx` for sm_90 with ptxas (and `flags`), its output into *log and its exit
// status into *rc; false (with a warning) where ptxas is not installed.
bool assemble(const std::string& ptx, const std::string& flags, std::string* log, int* rc) {
  std::string ptxas = ptxas_path();
  if (!std::filesystem::exists(ptxas)) {
    WARN("ptxas not found at " << ptxas << " (set MLCC_PTXAS); PTX not assembled");
    return false;
  }
  auto dir =
      std::filesystem::temp_directory_path() / ("mlcc-linear-ptx-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "k.ptx") << ptx;
  std::string cmd = ptxas + " " + flags + " -arch=sm_90 " + (dir / "k.ptx").string() + " -o " +
                    (dir / "k.cubin").string() + " > " + (dir / "log").string() + " 2>&1";
  *rc = std::system(cmd.c_str());
  std::ifstream in(dir / "log");
  log->assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove_all(dir);
  return true;
}

}  // namespace

TEST_CASE("linear: quantization names and activation dtypes", "[kernels][linear]") {
  CHECK(kernels::Quantization::parse("q4f16_1").quantized());
  CHECK(kernels::Quantization::parse("q4f16_1").act_dtype() == DataType::f16());
  CHECK(kernels::Quantization::parse("q4f32_1").act_dtype() == DataType::f32());
  CHECK_FALSE(kernels::Quantization::parse("q0f16").quantized());
  CHECK(kernels::Quantization::parse("q0f16").act_dtype() == DataType::f16());
  CHECK(kernels::Quantization::parse("q0f32").act_dtype() == DataType::f32());
  CHECK_THROWS_WITH(
      kernels::Quantization::parse("q4f16_0"),
      Catch::Contains("'q4f16_0'") && Catch::Contains("q4f16_1, q4f32_1, q0f16, q0f32"));
}

TEST_CASE("linear: parameters follow llm_kernels.h", "[kernels][linear]") {
  Var rows("rows");
  Target cpu = Target::host_cpu(), gpu = Target::parse("cuda -arch=sm_90");
  for (const Target* t : std::vector<const Target*>{nullptr, &cpu, &gpu}) {
    PrimFunc q4 = kernels::linear(spec("q4f16_1", rows, 64, 128, true, true), t);
    REQUIRE(q4.buffers.size() == 5);
    CHECK(q4.buffers[0]->name == "X");
    CHECK(q4.buffers[0]->dtype == DataType::f16());
    CHECK(q4.buffers[1]->name == "QW");
    CHECK(q4.buffers[1]->dtype == DataType::u32());
    CHECK(is_const_int(q4.buffers[1]->shape[1], 16));
    CHECK(q4.buffers[2]->name == "QS");
    CHECK(q4.buffers[2]->dtype == DataType::f16());
    CHECK(is_const_int(q4.buffers[2]->shape[1], 4));
    CHECK(q4.buffers[3]->name == "R");
    CHECK(q4.buffers[4]->name == "Y");
    CHECK(q4.buffers[4]->dtype == DataType::f32());
    REQUIRE(q4.scalars.size() == 1);
    CHECK(q4.scalars[0].get() == rows.get());

    PrimFunc q0 = kernels::linear(spec("q0f32", Expr(1), 10, 40, false, false), t);
    REQUIRE(q0.buffers.size() == 3);
    CHECK(q0.buffers[1]->name == "W");
    CHECK(q0.buffers[1]->dtype == DataType::f32());
    CHECK(is_const_int(q0.buffers[2]->shape[0], 1));
    CHECK(q0.scalars.empty());
  }
}

TEST_CASE("linear: invalid specs are refused with the reason", "[kernels][linear]") {
  Target cpu = Target::host_cpu();
  // A padded q4 width must fit x in shared memory for the GPU GEMV.
  Target gpu = Target::parse("cuda -arch=sm_90");
  CHECK_THROWS_WITH(kernels::linear(spec("q4f16_1", Expr(1), 16, 30000, false, false), &gpu),
                    Catch::Contains("k=30000") && Catch::Contains("too large to stage x"));
  kernels::LinearSpec bad_out = spec("q0f16", Expr(1), 16, 64, false, false);
  bad_out.out_dtype = DataType::bf16();
  CHECK_THROWS_WITH(kernels::linear(bad_out, &cpu),
                    Catch::Contains("out_dtype bf16") && Catch::Contains("f16 nor f32"));
  CHECK_THROWS_WITH(kernels::linear(spec("q0f32", Expr(0), 16, 64, false, false), &cpu),
                    Catch::Contains("rows must be at least 1"));
  CHECK_THROWS_WITH(kernels::linear(spec("q0f32", Expr(1), 0, 64, false, false), nullptr),
                    Catch::Contains("positive n and k"));
  kernels::LinearSpec bad_quant = spec("q0f32", Expr(1), 16, 64, false, false);
  bad_quant.quant.name = "q8f16";
  CHECK_THROWS_WITH(kernels::linear(bad_quant, &cpu), Catch::Contains("'q8f16'"));
}

TEST_CASE("linear: q4 decode and prefill match the interpreter", "[kernels][linear]") {
  check_family("linear_q4");
}

TEST_CASE("linear: q0 decode and prefill match the interpreter", "[kernels][linear]") {
  check_family("linear_q0");
}

TEST_CASE("linear: GPU schedules compile to PTX that ptxas accepts", "[kernels][linear]") {
  Target gpu = Target::parse("cuda -arch=sm_90");
  std::vector<PrimFunc> funcs;
  std::vector<std::string> names;
  for (const check::KernelCase& c : check::linear_cases()) {
    PrimFunc f = passes::lower_for_codegen(c.build(&gpu), gpu);
    f.name = "k" + std::to_string(funcs.size());
    funcs.push_back(f);
    names.push_back(c.name);
  }
  std::string ptx;
  std::vector<codegen::CudaKernel> ks = codegen::compile_cuda(funcs, gpu, &ptx);
  REQUIRE(ks.size() == funcs.size());
  for (size_t i = 0; i < ks.size(); ++i) {
    INFO(names[i]);
    CHECK(ptx.find(".entry k" + std::to_string(i) + "(") != std::string::npos);
    // x is staged in shared memory only where it fits (else read from global memory).
    CHECK(ks[i].shared_bytes <= gpu.max_shared_memory);
  }
  // The q4f16_1 GEMV keeps its 16-byte weight loads and packed f16x2 arithmetic.
  CHECK(ptx.find("ld.global.v4.u32") != std::string::npos);
  CHECK(ptx.find(".f16x2") != std::string::npos);

  std::string log;
  int rc = 0;
  if (!assemble(ptx, "", &log, &rc)) return;
  INFO(log);
  CHECK(rc == 0);
}

TEST_CASE("linear: f16 prefill on CUDA runs on tensor cores without spills", "[kernels][linear]") {
  Target gpu = Target::parse("cuda -arch=sm_90");
  Var rows("rows");
  struct Shape {
    const char* quant;
    int64_t n, k;
    bool residual, f32_out;
  };
  // Llama-2-7B's projections (qkv, o, gate_up, down, logits) and the cases' tails.
  const Shape shapes[] = {
      {"q4f16_1", 12288, 4096, false, false}, {"q4f16_1", 4096, 4096, true, false},
      {"q4f16_1", 22016, 4096, false, false}, {"q4f16_1", 4096, 11008, true, false},
      {"q4f16_1", 32000, 4096, false, true},  {"q4f16_1", 129, 168, true, false},
      {"q0f16", 4096, 4096, true, false},     {"q0f16", 65, 104, false, true}};
  std::vector<PrimFunc> funcs;
  for (const Shape& s : shapes) {
    PrimFunc f = passes::lower_for_codegen(
        kernels::linear(spec(s.quant, rows, s.n, s.k, s.residual, s.f32_out), &gpu), gpu);
    f.name = "m" + std::to_string(funcs.size());
    funcs.push_back(f);
  }
  std::string ptx;
  codegen::compile_cuda(funcs, gpu, &ptx);
  size_t mmas = 0;
  for (size_t at = 0; (at = ptx.find("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32", at)) !=
                      std::string::npos;
       ++at)
    ++mmas;
  CHECK(mmas >= funcs.size());
  // Elsewhere the tiled product stays: f32 activations, k not a multiple of 8, decode, and
  // MLCC_LINEAR_MMA=0.
  auto uses_mma = [&](const kernels::LinearSpec& s) {
    std::string p;
    codegen::compile_cuda({passes::lower_for_codegen(kernels::linear(s, &gpu), gpu)}, gpu, &p);
    return p.find("mma.sync") != std::string::npos;
  };
  CHECK_FALSE(uses_mma(spec("q4f32_1", rows, 64, 128, false, false)));
  CHECK_FALSE(uses_mma(spec("q4f16_1", rows, 64, 172, false, false)));
  CHECK_FALSE(uses_mma(spec("q4f16_1", Expr(1), 64, 128, false, false)));
  CHECK(uses_mma(spec("q0f16", rows, 64, 128, false, false)));
  ::setenv("MLCC_LINEAR_MMA", "0", 1);
  CHECK_FALSE(uses_mma(spec("q0f16", rows, 64, 128, false, false)));
  ::setenv("MLCC_LINEAR_MMA", "bogus", 1);
  CHECK_THROWS_WITH(uses_mma(spec("q0f16", rows, 64, 128, false, false)),
                    Catch::Contains("MLCC_LINEAR_MMA='bogus'"));
  ::unsetenv("MLCC_LINEAR_MMA");

  std::string log;
  int rc = 0;
  if (!assemble(ptx, "-v", &log, &rc)) return;
  INFO(log);
  REQUIRE(rc == 0);
  // Every kernel: no stack frame, no spills (ptxas -v prints one such line per kernel).
  size_t lines = 0;
  for (size_t at = 0; (at = log.find("bytes stack frame", at)) != std::string::npos; ++at) {
    size_t begin = log.rfind('\n', at) + 1, end = log.find('\n', at);
    std::string line = log.substr(begin, end - begin);
    INFO(line);
    CHECK(line.find(" 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads") !=
          std::string::npos);
    ++lines;
  }
  CHECK(lines == funcs.size());
}
