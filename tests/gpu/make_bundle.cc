// mlcc-make-bundle: on the build machine (with LLVM), compiles kernels for a GPU
// and writes a bundle (tools/kernel_bundle.h) that mlcc-cuda-run or
// mlcc-vulkan-run executes on the GPU machine.
//   --checks           CUDA: every case family's GPU schedules (the ctest's cases)
//                      with random inputs and the interpreter's outputs as expected
//                      values
//   --bench            CUDA: the q4f16_1 GEMV at Llama-2-7B decode shapes,
//                      random weights generated on the device, rotated among
//                      enough copies to defeat the L2 cache
//   --bench-prefill    CUDA: the q4f16_1 prefill linear at Llama-2-7B shapes and
//                      512 rows, on tensor cores (128x128 and 128x64 tiles) and on
//                      CUDA cores; the GB/s column is GFLOP/s there
//   --vulkan "TARGET"  a Vulkan bundle of every case family (the ctest's cases)
//                      for this vulkan target string, e.g. "vulkan -subgroup=32"
//   --data DATA_DIR    the input and expected files go there (bundle.json names
//                      them relative to DIR), so that bundles of the same cases
//                      for several targets share them
//   mlcc-make-bundle DIR [--checks] [--bench] [--bench-prefill] [--arch sm_90]
//                    [--data DATA_DIR]
//   mlcc-make-bundle DIR --vulkan "TARGET" [--data DATA_DIR]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "codegen/llvm/codegen.h"
#include "passes/legalize/kernels.h"
#include "passes/legalize/llm_kernels.h"
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

bool all_poison(const std::vector<uint8_t>& a) {
  return std::all_of(a.begin(), a.end(), [](uint8_t b) { return b == 0xff; });
}

// Where data files go: `dir` (written there) named as `prefix` + file name in the bundle.
struct DataDir {
  std::string dir, prefix;
};

// Writes a data file, or checks that the one there (written for another target from the
// same cases and seeds, so byte for byte the same) has these contents.
void write_data(const std::string& path, const std::vector<uint8_t>& data) {
  if (std::filesystem::exists(path)) {
    if (bundle::read_file(path) != data)
      throw Error("'" + path + "' exists with other contents (from other cases?); remove it");
    return;
  }
  bundle::write_file(path, data.data(), data.size());
}

// The case's entry with its data files written: inputs except where poisoned (runners
// poison those themselves), and the expected contents of written buffers.
bundle::Kernel write_case(const DataDir& data, check::GpuCase& g) {
  bundle::Kernel k = g.entry;
  for (size_t i = 0; i < k.args.size(); ++i) {
    bundle::Arg& a = k.args[i];
    std::string base = k.name + ".arg" + std::to_string(i);
    if (!all_poison(g.inputs[i])) {
      write_data(data.dir + "/" + base + ".bin", g.inputs[i]);
      a.input = data.prefix + base + ".bin";
    }
    if (g.written[i]) {
      write_data(data.dir + "/" + base + ".expected.bin", g.expected[i]);
      a.expected = data.prefix + base + ".expected.bin";
    }
  }
  return k;
}

std::vector<check::KernelCase> all_cases() {
  std::vector<check::KernelCase> all;
  for (auto family : {check::standard_cases, check::linear_cases, check::elementwise_cases,
                      check::attention_cases})
    for (check::KernelCase& c : family()) all.push_back(std::move(c));
  return all;
}

void add_checks(const DataDir& data, const Target& gpu, std::vector<ir::PrimFunc>* funcs,
                std::vector<bundle::Kernel>* entries) {
  uint64_t seed = 1;
  for (const check::KernelCase& c : all_cases()) {
    check::GpuCase g = check::gpu_case(c, gpu, seed);
    g.func.name = "case" + std::to_string(seed++);  // one PTX module: names must differ
    entries->push_back(write_case(data, g));
    funcs->push_back(g.func);
  }
}

// Every case family for a vulkan target: one SPIR-V module per kernel. Each case's seed is
// its index, so bundles for other targets have the same data and can share it.
bundle::Bundle vulkan_bundle(const std::string& dir, const DataDir& data, const Target& target) {
  bundle::Bundle b;
  b.target = target.str();
  b.ptx_file = "";
  uint64_t seed = 1;
  for (const check::KernelCase& c : all_cases()) {
    check::GpuCase g = check::gpu_case(c, target, seed++);
    bundle::Kernel k = write_case(data, g);
    k.spirv = k.name + ".spv";
    bundle::write_file(dir + "/" + k.spirv, g.spirv.data(), g.spirv.size() * 4);
    b.kernels.push_back(std::move(k));
  }
  return b;
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

// Prefill linear layers of Llama-2-7B (q4f16_1, 512 rows) under each MLCC_LINEAR_MMA
// choice; bytes_moved holds the FLOPs, so the runner's GB/s column reads GFLOP/s.
void add_bench_prefill(const Target& gpu, std::vector<ir::PrimFunc>* funcs,
                       std::vector<bundle::Kernel>* entries) {
  const int64_t rows = 512;
  const int64_t shapes[][3] = {
      {12288, 4096, 0}, {4096, 4096, 1}, {22016, 4096, 0}, {4096, 11008, 1}};
  for (auto [n, k, residual] : shapes) {
    for (const char* variant : {"128x128", "128x64", "0"}) {
      kernels::LinearSpec s;
      s.quant = kernels::Quantization::parse("q4f16_1");
      s.rows = ir::Var("rows");
      s.n = n, s.k = k, s.residual = residual != 0;
      s.out_dtype = ir::DataType::f16();
      ::setenv("MLCC_LINEAR_MMA", variant, 1);
      ir::PrimFunc f = kernels::linear(s, &gpu);
      ::unsetenv("MLCC_LINEAR_MMA");
      std::string label = std::to_string(rows) + "x" + std::to_string(n) + "x" + std::to_string(k);
      std::string v = variant[0] == '0' ? "cuda_cores" : variant;
      f.name = "prefill_" + std::to_string(n) + "x" + std::to_string(k) + "_" + v;
      bundle::Kernel e;
      e.name = "prefill linear q4f16_1 " + v + " (GFLOP/s)";
      e.shape = label;
      e.bench = true;
      e.scalars = {rows};
      e.args = {{"f16", rows * k * 2, "@random", "", false},
                {"u32", n * k / 2, "@random", "", true},
                {"f16", n * (k / 32) * 2, "@random", "", true}};
      if (residual) e.args.push_back({"f16", rows * n * 2, "@random", "", false});
      e.args.push_back({"f16", rows * n * 2, "", "", false});
      e.bytes_moved = 2 * rows * n * k;
      funcs->push_back(passes::lower_for_codegen(f, gpu));
      entries->push_back(e);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const char* usage =
      "usage: mlcc-make-bundle DIR [--checks] [--bench] [--bench-prefill] [--arch sm_90]\n"
      "                        [--data DATA_DIR]\n"
      "       mlcc-make-bundle DIR --vulkan \"vulkan -subgroup=32\" [--data DATA_DIR]\n";
  if (argc < 2 || std::string(argv[1]) == "--help") {
    std::printf("%s", usage);
    return argc < 2 ? 2 : 0;
  }
  std::string dir = argv[1], arch = "sm_90", vulkan, data_dir;
  bool checks = false, bench = false, bench_prefill = false;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--checks")
      checks = true;
    else if (a == "--bench")
      bench = true;
    else if (a == "--bench-prefill")
      bench_prefill = true;
    else if (a == "--arch" && i + 1 < argc)
      arch = argv[++i];
    else if (a == "--vulkan" && i + 1 < argc)
      vulkan = argv[++i];
    else if (a == "--data" && i + 1 < argc)
      data_dir = argv[++i];
    else {
      std::fprintf(stderr, "mlcc-make-bundle: unknown argument '%s'\n%s", a.c_str(), usage);
      return 2;
    }
  }
  if (!vulkan.empty() && (checks || bench || bench_prefill)) {
    std::fprintf(stderr, "mlcc-make-bundle: --vulkan takes no --checks or --bench\n%s", usage);
    return 2;
  }
  try {
    std::filesystem::create_directories(dir);
    DataDir data{dir, ""};
    if (!data_dir.empty()) {
      std::filesystem::create_directories(data_dir);
      data = {data_dir, std::filesystem::relative(data_dir, dir).string() + "/"};
    }
    bundle::Bundle b;
    if (!vulkan.empty()) {
      Target target = Target::parse(vulkan);
      if (target.kind != TargetKind::kVulkan)
        throw Error("--vulkan '" + vulkan + "' is not a vulkan target");
      b = vulkan_bundle(dir, data, target);
    } else {
      Target gpu = Target::parse("cuda -arch=" + arch);
      std::vector<ir::PrimFunc> funcs;
      std::vector<bundle::Kernel> entries;
      if (checks) add_checks(data, gpu, &funcs, &entries);
      if (bench) add_bench(gpu, &funcs, &entries);
      if (bench_prefill) add_bench_prefill(gpu, &funcs, &entries);
      std::string ptx;
      std::vector<codegen::CudaKernel> compiled = codegen::compile_cuda(funcs, gpu, &ptx);
      b.target = gpu.str();
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
    }
    bundle::write_bundle(dir, b);
    std::printf("wrote %zu kernels to %s\n", b.kernels.size(), dir.c_str());
  } catch (const Error& e) {
    std::fprintf(stderr, "mlcc-make-bundle: %s\n", e.what());
    return 1;
  }
  return 0;
}
