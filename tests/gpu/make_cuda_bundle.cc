// mlcc-make-cuda-bundle: on the build machine (with LLVM), compiles kernels for
// CUDA and writes a bundle (tools/kernel_bundle.h) that mlcc-cuda-run executes
// on the GPU machine.
//   --checks  the foundation kernels' GPU schedules with random inputs and the
//             interpreter's outputs as expected values
//   --bench   the q4f16_1 GEMV at Llama-2-7B decode shapes, random weights
//   generated on
//             the device, rotated among enough copies to defeat the L2 cache
//   mlcc-make-cuda-bundle DIR [--checks] [--bench] [--arch sm_90]
#include <cstdio>
#include <filesystem>
#include <string>

#include "codegen/llvm/codegen.h"
#include "passes/legalize/kernels.h"
#include "passes/pipeline.h"
#include "runtime/error.h"
#include "tools/kernel_bundle.h"
#include "tools/kernel_check.h"

using namespace mlcc;

namespace {

bundle::Kernel kernel_entry(const codegen::CudaKernel& ck, const ir::PrimFunc& f,
                            const std::vector<int64_t>& scalars) {
  bundle::Kernel k;
  k.function = ck.name;
  std::vector<std::pair<ir::Var, int64_t>> values;
  for (size_t i = 0; i < scalars.size(); ++i) values.emplace_back(f.scalars[i], scalars[i]);
  for (int d = 0; d < 3; ++d) {
    k.grid[d] = codegen::eval_launch_dim(ck.grid[d], values);
    k.block[d] = codegen::eval_launch_dim(ck.block[d], values);
  }
  k.scalars = scalars;
  for (const ir::Var& v : f.scalars) k.scalar_types.push_back(v.dtype().bits == 64 ? "i64" : "i32");
  return k;
}

void add_checks(const std::string& dir, const Target& gpu, std::vector<ir::PrimFunc>* funcs,
                std::vector<bundle::Kernel>* entries) {
  uint64_t seed = 1;
  for (const check::KernelCase& c : check::standard_cases()) {
    ir::PrimFunc f = passes::lower_for_codegen(c.build(&gpu), gpu);
    ir::PrimFunc ref = c.reference_func();
    check::Arrays inputs = check::case_arguments(c, ref, seed++);
    check::Arrays expected = inputs;
    check::interpret(ref, expected, c.scalars);
    std::vector<bool> written = check::written_buffers(ref);
    bundle::Kernel k;
    k.name = c.name;
    k.shape = c.shape;
    k.tolerance = c.tolerance;
    for (size_t i = 0; i < inputs.size(); ++i) {
      bundle::Arg a;
      a.dtype = ir::to_string(f.buffers[i]->dtype);
      a.bytes = static_cast<int64_t>(inputs[i].size());
      std::string base = c.name + ".arg" + std::to_string(i);
      if (!written[i]) {
        a.input = base + ".bin";
        bundle::write_file(dir + "/" + a.input, inputs[i].data(), inputs[i].size());
      } else {
        a.expected = base + ".expected.bin";
        bundle::write_file(dir + "/" + a.expected, expected[i].data(), expected[i].size());
      }
      k.args.push_back(a);
    }
    k.scalars = c.scalars;
    funcs->push_back(f);
    entries->push_back(k);
  }
}

// The practical ceiling at a shape: a kernel that only reads the same weight
// words (16 bytes per load, four loads in flight per thread, as the GEMV) and
// xors them together.
ir::PrimFunc read_only_kernel(int64_t n, int64_t k, const std::string& name) {
  using namespace ir;
  const int64_t chunks = n * k / 32;  // 16-byte chunks
  const int threads = 256, per_thread = 4;
  MLCC_CHECK(chunks % (threads * per_thread) == 0, "read-only kernel: shape not divisible");
  Buffer W = Buffer::make("W", DataType::u32(), {Expr(int(chunks * 4))});
  Buffer Y = Buffer::make("Y", DataType::u32(), {Expr(int(chunks / per_thread))});
  Buffer v = Buffer::make("v", DataType::u32(), {Expr(4 * per_thread)}, MemScope::kLocal);
  Var bx("bx"), tx("tx"), g("g");
  Expr chunk = (bx * per_thread + g) * threads + tx;
  Stmt loads = for_loop(g, 0, per_thread, store(v, {ramp(g * 4, 1, 4)}, W(ramp(chunk * 4, 1, 4))),
                        ForKind::kUnrolled);
  Expr x = v(0);
  for (int i = 1; i < 4 * per_thread; ++i) x = x ^ v(i);
  Stmt body = allocate(v, seq({loads, store(Y, {bx * threads + tx}, x)}));
  body = thread_loop(bx, int(chunks / (threads * per_thread)), ThreadAxis::kBlockX,
                     thread_loop(tx, threads, ThreadAxis::kThreadX, body));
  return make_prim_func(name, {W, Y}, body);
}

void add_bench(const Target& gpu, std::vector<ir::PrimFunc>* funcs,
               std::vector<bundle::Kernel>* entries) {
  const int64_t shapes[][2] = {{4096, 4096}, {11008, 4096}, {4096, 11008}};
  for (auto [n, k] : shapes) {
    // The default schedule (8 rows per block) and its neighbours, to see the
    // trend.
    for (int rows : {8, 4, 16}) {
      ir::PrimFunc f = kernels::gemv_q4f16(n, k, gpu, rows);
      std::string label = std::to_string(n) + "x" + std::to_string(k);
      f.name = "gemv_q4f16_" + label + "_r" + std::to_string(rows);
      bundle::Kernel e;
      e.name = "gemv_q4f16 (" + std::to_string(rows) + " rows/block)";
      e.shape = label;
      e.bench = true;
      int64_t w = n * k / 2, s = n * (k / 32) * 2;
      e.args = {{"u32", w, "@random", "", true},
                {"f16", s, "@random", "", true},
                {"f16", k * 2, "@random", "", false},
                {"f16", n * 2, "", "", false}};
      e.bytes_moved = w + s;
      funcs->push_back(passes::lower_for_codegen(f, gpu));
      entries->push_back(e);
    }
    std::string label = std::to_string(n) + "x" + std::to_string(k);
    bundle::Kernel e;
    e.name = "read the weight words only";
    e.shape = label;
    e.bench = true;
    int64_t w = n * k / 2;
    e.args = {{"u32", w, "@random", "", true}, {"u32", w / 16, "", "", false}};
    e.bytes_moved = w;
    funcs->push_back(passes::lower_for_codegen(read_only_kernel(n, k, "read_only_" + label), gpu));
    entries->push_back(e);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help") {
    std::printf(
        "usage: mlcc-make-cuda-bundle DIR [--checks] [--bench] [--arch "
        "sm_90]\n");
    return argc < 2 ? 2 : 0;
  }
  std::string dir = argv[1], arch = "sm_90";
  bool checks = false, bench = false;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--checks")
      checks = true;
    else if (a == "--bench")
      bench = true;
    else if (a == "--arch" && i + 1 < argc)
      arch = argv[++i];
    else {
      std::fprintf(stderr, "mlcc-make-cuda-bundle: unknown argument '%s'\n", a.c_str());
      return 2;
    }
  }
  try {
    std::filesystem::create_directories(dir);
    Target gpu = Target::parse("cuda -arch=" + arch);
    std::vector<ir::PrimFunc> funcs;
    std::vector<bundle::Kernel> entries;
    if (checks) add_checks(dir, gpu, &funcs, &entries);
    if (bench) add_bench(gpu, &funcs, &entries);
    std::string ptx;
    std::vector<codegen::CudaKernel> compiled = codegen::compile_cuda(funcs, gpu, &ptx);
    bundle::Bundle b;
    for (size_t i = 0; i < entries.size(); ++i) {
      bundle::Kernel k = kernel_entry(compiled[i], funcs[i], entries[i].scalars);
      k.name = entries[i].name;
      k.shape = entries[i].shape;
      k.args = entries[i].args;
      k.tolerance = entries[i].tolerance;
      k.bench = entries[i].bench;
      k.bytes_moved = entries[i].bytes_moved;
      k.shared_bytes = 0;  // static shared memory is declared in the PTX
      b.kernels.push_back(k);
    }
    bundle::write_file(dir + "/" + b.ptx_file, ptx.data(), ptx.size());
    bundle::write_bundle(dir, b);
    std::printf("wrote %zu kernels to %s\n", b.kernels.size(), dir.c_str());
  } catch (const Error& e) {
    std::fprintf(stderr, "mlcc-make-cuda-bundle: %s\n", e.what());
    return 1;
  }
  return 0;
}
