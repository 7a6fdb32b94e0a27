// Random inputs, interpreter references and CPU runs for the numeric kernel
// checks.
#include "tools/kernel_check.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>

#include "codegen/llvm/codegen.h"
#include "codegen/spirv/codegen_spirv.h"
#include "ir/functor.h"
#include "ir/half.h"
#include "ir/interpreter.h"
#include "passes/legalize/kernels.h"
#include "passes/pipeline.h"
#include "runtime/cpu_module.h"
#include "runtime/error.h"
#include "tools/kernel_bundle.h"

namespace mlcc::check {

using namespace ir;

std::vector<KernelCase> standard_cases() {
  Var n("n");
  std::vector<KernelCase> cases;
  auto add = [&](std::string name, std::string shape, std::function<PrimFunc(const Target*)> b,
                 std::vector<int64_t> scalars, double tol) {
    cases.push_back(
        {std::move(name), std::move(shape), std::move(b), nullptr, std::move(scalars), tol});
  };
  add(
      "add_broadcast", "37x300 + 300",
      [n](const Target* t) { return kernels::add_broadcast(n, 300, t); }, {37}, 1e-5);
  add(
      "row_sum", "24x1000",
      [n](const Target* t) { return kernels::row_reduce(ReduceKind::kSum, n, 1000, t); }, {24},
      1e-5);
  add(
      "row_max", "24x1000",
      [n](const Target* t) { return kernels::row_reduce(ReduceKind::kMax, n, 1000, t); }, {24},
      1e-5);
  add(
      "softmax", "9x700", [n](const Target* t) { return kernels::softmax(n, 700, t); }, {9}, 1e-5);
  add(
      "rms_norm", "7x512 f16", [n](const Target* t) { return kernels::rms_norm(n, 512, 1e-5, t); },
      {7}, 1e-2);
  add(
      "matmul", "64x96x80", [](const Target* t) { return kernels::matmul(64, 96, 80, t); }, {},
      1e-5);
  KernelCase gemv{
      "gemv_q4f16",
      "20x4640 q4f16_1",
      [](const Target* t) { return kernels::gemv_q4f16(20, 4640, t ? *t : Target::host_cpu()); },
      [] { return kernels::gemv_q4f16_reference(20, 4640); },
      {},
      1e-2};
  cases.push_back(gemv);
  return cases;
}

std::vector<bool> written_buffers(const PrimFunc& f) {
  std::vector<bool> written(f.buffers.size(), false);
  pre_order_visit(f.body, [&](const Node* node) {
    if (node->kind != NodeKind::kBufferStore) return;
    const auto* st = static_cast<const BufferStoreNode*>(node);
    for (size_t i = 0; i < f.buffers.size(); ++i)
      if (st->buffer.same_as(f.buffers[i])) written[i] = true;
  });
  return written;
}

namespace {

std::vector<std::pair<Var, int64_t>> scalar_bindings(const PrimFunc& f,
                                                     const std::vector<int64_t>& scalars) {
  if (scalars.size() != f.scalars.size())
    throw Error("kernel " + f.name + " takes " + std::to_string(f.scalars.size()) +
                " scalar parameters, " + std::to_string(scalars.size()) + " were given");
  std::vector<std::pair<Var, int64_t>> values;
  for (size_t i = 0; i < scalars.size(); ++i) values.emplace_back(f.scalars[i], scalars[i]);
  return values;
}

size_t buffer_bytes(const Buffer& b, const std::vector<std::pair<Var, int64_t>>& values) {
  int64_t n = 1;
  for (const Expr& d : b->shape) n *= codegen::eval_launch_dim(d, values);
  return static_cast<size_t>(n) * static_cast<size_t>(b->dtype.bytes());
}

}  // namespace

Arrays random_arguments(const PrimFunc& f, const std::vector<int64_t>& scalars, uint64_t seed) {
  auto values = scalar_bindings(f, scalars);
  std::vector<bool> written = written_buffers(f);
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 0x1234567;
  auto next = [&x] {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return x;
  };
  auto uniform = [&] { return static_cast<float>(next() >> 40) / float(1 << 24) * 2.0f - 1.0f; };
  Arrays args;
  for (size_t i = 0; i < f.buffers.size(); ++i) {
    const Buffer& b = f.buffers[i];
    std::vector<uint8_t> data(buffer_bytes(b, values), 0xff);
    if (!written[i]) {
      DataType t = b->dtype;
      size_t n = data.size() / t.bytes();
      for (size_t e = 0; e < n; ++e) {
        if (t == DataType::f32()) {
          float v = uniform();
          std::memcpy(&data[e * 4], &v, 4);
        } else if (t == DataType::f16()) {
          uint16_t v = float_to_half(uniform());
          std::memcpy(&data[e * 2], &v, 2);
        } else {
          uint64_t v = next();
          std::memcpy(&data[e * t.bytes()], &v, t.bytes());
        }
      }
    }
    args.push_back(std::move(data));
  }
  return args;
}

void interpret(const PrimFunc& f, Arrays& args, const std::vector<int64_t>& scalars,
               int warp_size) {
  std::vector<HostBuffer> bufs;
  for (auto& a : args) bufs.push_back({a.data(), a.size()});
  std::vector<ScalarValue> sv(scalars.begin(), scalars.end());
  InterpreterOptions opt;
  opt.warp_size = warp_size;
  ir::interpret(f, bufs, sv, opt);
}

double output_error(const PrimFunc& f, const Arrays& out, const Arrays& ref) {
  std::vector<bool> written = written_buffers(f);
  double worst = 0;
  for (size_t i = 0; i < f.buffers.size(); ++i) {
    if (!written[i]) continue;
    double e = bundle::relative_error(to_string(f.buffers[i]->dtype), out[i].data(), ref[i].data(),
                                      ref[i].size());
    if (std::isnan(e)) return e;
    worst = std::max(worst, e);
  }
  return worst;
}

double run_on_cpu(const PrimFunc& f, const Target& target, Arrays& args,
                  const std::vector<int64_t>& scalars, int repeat) {
  PrimFunc lowered = passes::lower_for_codegen(f, target);
  char dir_template[] = "/tmp/mlcc-check-XXXXXX";
  if (!mkdtemp(dir_template)) throw Error("cannot create a temporary directory in /tmp");
  std::filesystem::path dir(dir_template);
  struct Cleanup {
    std::filesystem::path p;
    ~Cleanup() { std::filesystem::remove_all(p); }
  } cleanup{dir};
  std::string so = (dir / "kernel.so").string();
  codegen::build_cpu_shared_library({lowered}, target, so);
  auto module = CpuModule::load(so);
  MlccKernelFn fn = module->function(lowered.name);
  // Kernels may assume each buffer's declared alignment (64 bytes): run on
  // aligned copies.
  std::vector<std::unique_ptr<uint8_t, decltype(&std::free)>> aligned;
  std::vector<void*> ptrs;
  for (auto& a : args) {
    size_t bytes = (a.size() + 63) / 64 * 64;
    aligned.emplace_back(static_cast<uint8_t*>(std::aligned_alloc(64, bytes)), &std::free);
    std::memcpy(aligned.back().get(), a.data(), a.size());
    ptrs.push_back(aligned.back().get());
  }
  std::vector<double> ms;
  for (int r = 0; r < std::max(repeat, 1); ++r) {
    auto t0 = std::chrono::steady_clock::now();
    int32_t status = fn(ptrs.data(), scalars.data());
    auto t1 = std::chrono::steady_clock::now();
    if (status != 0) throw Error("kernel " + f.name + " returned status " + std::to_string(status));
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  for (size_t i = 0; i < args.size(); ++i) std::memcpy(args[i].data(), ptrs[i], args[i].size());
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

bool CaseResult::passed() const {
  return !std::isnan(cpu_error) && !std::isnan(gpu_schedule_error) && cpu_error < tolerance &&
         gpu_schedule_error < tolerance;
}

Arrays case_arguments(const KernelCase& c, const PrimFunc& f, uint64_t seed) {
  Arrays args = random_arguments(f, c.scalars, seed);
  if (c.prepare) c.prepare(args, seed);
  return args;
}

CaseResult check_case(const KernelCase& c, uint64_t seed, int repeat) {
  CaseResult r{c.name, c.shape};
  r.tolerance = c.tolerance;
  PrimFunc ref = c.reference_func();
  Arrays expected = case_arguments(c, ref, seed);
  Arrays inputs = expected;
  auto t0 = std::chrono::steady_clock::now();
  interpret(ref, expected, c.scalars);
  r.interpreter_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

  Target cpu = Target::host_cpu();
  Arrays cpu_out = inputs;
  r.cpu_ms = run_on_cpu(c.build(&cpu), cpu, cpu_out, c.scalars, repeat);
  r.cpu_error = output_error(ref, cpu_out, expected);

  // The GPU schedule, lowered as for CUDA, run by the interpreter with 32-lane
  // warps.
  Target gpu = Target::parse("cuda -arch=sm_90");
  PrimFunc gpu_func = passes::lower_for_codegen(c.build(&gpu), gpu);
  Arrays gpu_out = inputs;
  interpret(gpu_func, gpu_out, c.scalars, gpu.warp_size);
  r.gpu_schedule_error = output_error(ref, gpu_out, expected);
  return r;
}

GpuCase gpu_case(const KernelCase& c, const Target& target, uint64_t seed) {
  GpuCase g;
  g.func = passes::lower_for_codegen(c.build(&target), target);
  g.reference = c.reference_func();
  g.inputs = case_arguments(c, g.reference, seed);
  g.expected = g.inputs;
  interpret(g.reference, g.expected, c.scalars);
  g.written = written_buffers(g.reference);
  bundle::Kernel& k = g.entry;
  k.name = c.name;
  k.shape = c.shape;
  k.tolerance = c.tolerance;
  k.function = g.func.name;
  k.scalars = c.scalars;
  for (const Var& v : g.func.scalars)
    k.scalar_types.push_back(v.dtype().bits == 64 ? "i64" : "i32");
  for (size_t i = 0; i < g.inputs.size(); ++i)
    k.args.push_back({to_string(g.reference.buffers[i]->dtype),
                      static_cast<int64_t>(g.inputs[i].size()),
                      {},
                      {},
                      false});
  if (target.kind == TargetKind::kVulkan) {
    codegen::SpirvKernel sk = codegen::build_spirv_kernel(g.func, target);
    auto values = scalar_bindings(g.func, c.scalars);
    for (int d = 0; d < 3; ++d) {
      k.grid[d] = codegen::eval_launch_dim(sk.grid[d], values);
      k.block[d] = sk.block[d];
    }
    k.shared_bytes = sk.shared_bytes;
    g.spirv = std::move(sk.words);
  }
  return g;
}

}  // namespace mlcc::check
