// SPIR-V code generation: the `vulkan` target string, the kernel ABI (bindings, push
// constants, LocalSize, dispatch), and every kernel case compiled for vulkan passing the
// SPIRV-Tools validator for Vulkan 1.1. A failing module prints the validator's message
// and the disassembly.
#include <spirv-tools/libspirv.h>

#include <catch2/catch.hpp>
#include <string>

#include "codegen/llvm/codegen.h"
#include "codegen/spirv/codegen_spirv.h"
#include "codegen/spirv/spirv_builder.h"
#include "passes/pipeline.h"
#include "runtime/error.h"
#include "tools/kernel_check.h"

using namespace mlcc;
using namespace mlcc::ir;

namespace {

std::string disassemble(spv_context ctx, const std::vector<uint32_t>& words) {
  spv_text text = nullptr;
  spv_diagnostic diag = nullptr;
  std::string out;
  if (spvBinaryToText(ctx, words.data(), words.size(),
                      SPV_BINARY_TO_TEXT_OPTION_FRIENDLY_NAMES | SPV_BINARY_TO_TEXT_OPTION_INDENT,
                      &text, &diag) == SPV_SUCCESS)
    out.assign(text->str, text->length);
  else
    out = std::string("(disassembly failed: ") + (diag ? diag->error : "?") + ")";
  spvTextDestroy(text);
  spvDiagnosticDestroy(diag);
  return out;
}

// "" when the module is valid for Vulkan 1.1, else the validator's message + disassembly.
std::string validate(const std::vector<uint32_t>& words) {
  spv_context ctx = spvContextCreate(SPV_ENV_VULKAN_1_1);
  spv_const_binary_t binary{words.data(), words.size()};
  spv_diagnostic diag = nullptr;
  spv_validator_options opts = spvValidatorOptionsCreate();
  spv_result_t rc = spvValidateWithOptions(ctx, opts, &binary, &diag);
  std::string msg;
  if (rc != SPV_SUCCESS)
    msg = std::string("validator: ") + (diag ? diag->error : "(no message)") + "\n" +
          disassemble(ctx, words);
  spvDiagnosticDestroy(diag);
  spvValidatorOptionsDestroy(opts);
  spvContextDestroy(ctx);
  return msg;
}

codegen::SpirvKernel compile(const PrimFunc& f, const Target& t) {
  return codegen::build_spirv_kernel(passes::lower_for_codegen(f, t), t);
}

// Per block of 128 threads: stage A in shared memory, barrier, combine mirrored elements,
// xor and down shuffles, floor division of a signed value, a local array, f16 math and a
// 64-thread tail loop that needs a guard.
PrimFunc block_kernel(Var n) {
  Var bx("bx"), tx("tx"), i("i"), v("v", DataType::f32()), w("w", DataType::f32());
  Buffer A = Buffer::make("A", DataType::f32(), {n});
  Buffer H = Buffer::make("H", DataType::f16(), {n});
  Buffer Out = Buffer::make("Out", DataType::f32(), {n});
  Buffer Tail = Buffer::make("Tail", DataType::i32(), {64});
  Buffer S = Buffer::make("S", DataType::f32(), {128}, MemScope::kShared);
  Buffer L = Buffer::make("L", DataType::f32(), {4}, MemScope::kLocal);
  Expr gid = bx * 128 + tx;
  Expr x16 = call(DataType::f32(), Intrinsic::kWarpShuffleXor, {v, Expr(16), Expr(32)});
  Expr d1 = call(DataType::f32(), Intrinsic::kWarpShuffleDown, {w, Expr(1), Expr(8)});
  Expr h = cast(DataType::f16(), exp(cast(DataType::f32(), H(gid))) + tanh(v));
  Stmt body = thread_loop(
      bx, (n + 127) / 128, ThreadAxis::kBlockX,
      allocate(
          S,
          seq({thread_loop(tx, 128, ThreadAxis::kThreadX,
                           store(S, {tx}, select(gid < n, A(gid), Expr(0.0)))),
               thread_loop(tx, 128, ThreadAxis::kThreadX, sync_threads()),
               thread_loop(
                   tx, 128, ThreadAxis::kThreadX,
                   allocate(
                       L, let_stmt(
                              v, S(tx) + S(127 - tx),
                              let_stmt(w, v + x16,
                                       seq({for_loop(i, 0, 4,
                                                     store(L, {i}, w * cast(DataType::f32(), i))),
                                            if_then_else(gid < n, seq({store(Out, {gid}, d1 + L(3)),
                                                                       store(H, {gid}, h)}))}))))),
               thread_loop(tx, 64, ThreadAxis::kThreadX,
                           if_then_else(eq(bx, 0),
                                        store(Tail, {tx}, (tx - 7) / 3 + (tx - 9) % 5)))})));
  return make_prim_func("block_kernel", {A, H, Out, Tail}, body);
}

void check_cases(const std::vector<check::KernelCase>& cases, const Target& t, int* validated) {
  for (const check::KernelCase& c : cases) {
    INFO(c.name << " " << c.shape << " for " << t.str());
    PrimFunc f = c.build(&t);
    codegen::SpirvKernel k = compile(f, t);
    std::string msg = validate(k.words);
    if (!msg.empty()) FAIL(msg);
    ++*validated;
  }
}

}  // namespace

TEST_CASE("vulkan target: parse, defaults and str round trip", "[codegen][spirv][target]") {
  Target t = Target::parse("vulkan");
  CHECK(t.kind == TargetKind::kVulkan);
  CHECK(t.is_gpu());
  CHECK(t.warp_size == 8);
  CHECK(t.f16_arithmetic);
  CHECK(t.storage_16bit);
  CHECK(t.max_threads_per_block == 256);
  CHECK(t.max_shared_memory == 32768);
  CHECK(t.str() == "vulkan -subgroup=8 -f16=1 -storage16=1 -max-threads=256 -shared-memory=32768");
  Target u = Target::parse(
      "vulkan -subgroup=32 -f16=0 -storage16=0 -max-threads=1024 -shared-memory=49152");
  CHECK(u.warp_size == 32);
  CHECK(!u.f16_arithmetic);
  CHECK(!u.storage_16bit);
  CHECK(u.max_threads_per_block == 1024);
  CHECK(u.max_shared_memory == 49152);
  Target r = Target::parse(u.str());
  CHECK(r.str() == u.str());
  CHECK(r.warp_size == 32);
}

TEST_CASE("vulkan target: errors name the option", "[codegen][spirv][target]") {
  CHECK_THROWS_WITH(Target::parse("vulkan -arch=sm_90"),
                    Catch::Contains("unknown option -arch") && Catch::Contains("-subgroup"));
  CHECK_THROWS_WITH(Target::parse("vulkan -subgroup=12"), Catch::Contains("power of two"));
  CHECK_THROWS_WITH(Target::parse("vulkan -f16=yes"),
                    Catch::Contains("-f16=yes") && Catch::Contains("[0, 1]"));
  CHECK_THROWS_WITH(Target::parse("vulkan -max-threads=0"), Catch::Contains("-max-threads=0"));
  CHECK_THROWS_WITH(Target::parse("vulkan subgroup"), Catch::Contains("-key=value"));
}

TEST_CASE("spirv codegen: kernel ABI and a valid module", "[codegen][spirv]") {
  for (const char* spec :
       {"vulkan", "vulkan -f16=0", "vulkan -subgroup=32", "vulkan -storage16=0"}) {
    INFO(spec);
    Target t = Target::parse(spec);
    Var n("n");
    codegen::SpirvKernel k = compile(block_kernel(n), t);
    CHECK(k.name == "block_kernel");
    CHECK(k.block == std::array<int, 3>{128, 1, 1});
    CHECK(k.num_buffers == 4);
    CHECK(k.push_constant_bytes == 4);
    CHECK(k.shared_bytes == 128 * 4);
    CHECK(codegen::eval_launch_dim(k.grid[0], {{n, 300}}) == 3);
    CHECK(codegen::eval_launch_dim(k.grid[1], {}) == 1);
    std::string msg = validate(k.words);
    if (!msg.empty()) FAIL(msg);
    spv_context ctx = spvContextCreate(SPV_ENV_VULKAN_1_1);
    std::string text = disassemble(ctx, k.words);
    spvContextDestroy(ctx);
    CHECK(text.find("OpEntryPoint GLCompute %block_kernel \"main\"") != std::string::npos);
    CHECK(text.find("OpExecutionMode %block_kernel LocalSize 128 1 1") != std::string::npos);
    CHECK(text.find("OpDecorate %Tail Binding 3") != std::string::npos);
    CHECK(text.find("OpMemberDecorate %_struct_") != std::string::npos);
    // Capabilities follow the target: no f16 arithmetic with -f16=0, no 16-bit storage
    // with -storage16=0 (f16 then lives in f32 registers / packed u32 words).
    bool f16 = t.f16_arithmetic, s16 = t.storage_16bit;
    CHECK((text.find("OpCapability Float16") != std::string::npos) == f16);
    CHECK((text.find("OpCapability StorageBuffer16BitAccess") != std::string::npos) == s16);
    CHECK(text.find("OpCapability GroupNonUniformShuffleRelative") != std::string::npos);
    CHECK(text.find("OpCapability Int64") == std::string::npos);
    // The validator is live: a module without its OpFunctionEnd is refused.
    std::vector<uint32_t> cut(k.words.begin(), k.words.end() - 1);
    CHECK(!validate(cut).empty());
  }
}

TEST_CASE("spirv codegen: aligned loads of read-only buffers are vector loads",
          "[codegen][spirv]") {
  // Per thread: 4 f32 of A and 8 f16 of H at 16-byte aligned offsets (one uvec4 each); 2 f32
  // of A at an odd element (lane by lane); Out, which the kernel writes, lane by lane too.
  // Only validated, not run: threads overlap.
  Var tx("tx");
  Buffer A = Buffer::make("A", DataType::f32(), {1024});
  Buffer H = Buffer::make("H", DataType::f16(), {2048});
  Buffer Out = Buffer::make("Out", DataType::f32(), {2048});
  Stmt body = thread_loop(
      tx, 256, ThreadAxis::kThreadX,
      seq({store(Out, {ramp(tx * 8, 1, 8)}, cast(DataType::f32(8), H(ramp(tx * 8, 1, 8)))),
           store(Out, {ramp(tx * 4, 1, 4)}, A(ramp(tx * 4, 1, 4)) + Out(ramp(tx * 4, 1, 4))),
           store(Out, {ramp(tx * 4 + 1, 1, 2)}, A(ramp(tx * 4 + 1, 1, 2)))}));
  PrimFunc f = make_prim_func("vector_loads", {A, H, Out}, body);
  for (const char* spec : {"vulkan", "vulkan -f16=0", "vulkan -storage16=0"}) {
    INFO(spec);
    codegen::SpirvKernel k = compile(f, Target::parse(spec));
    std::string msg = validate(k.words);
    if (!msg.empty()) FAIL(msg);
    spv_context ctx = spvContextCreate(SPV_ENV_VULKAN_1_1);
    std::string text = disassemble(ctx, k.words);
    spvContextDestroy(ctx);
    INFO(text);
    auto count = [&](const std::string& what) {
      size_t n = 0;
      for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
      return n;
    };
    CHECK(count("OpLoad %v4uint") == 2);  // A and H, once each
    CHECK(count("OpLoad %v2uint") == 0);  // the odd pair is not 8-byte aligned
    CHECK(count("OpDecorate %A_v4 Binding 0") == 1);
    CHECK(count("OpDecorate %H_v4 Binding 1") == 1);
    CHECK(count("OpDecorate %A NonWritable") == 1);
    CHECK(count("OpDecorate %Out NonWritable") == 0);
    CHECK(count("Out_v") == 0);
  }
}

TEST_CASE("spirv builder: deduplication and a hand-built module", "[codegen][spirv]") {
  codegen::spirv::SpirvBuilder b;
  b.capability(spv::Capability::Shader);
  uint32_t i32 = b.t_int(32, true);
  CHECK(b.t_int(32, true) == i32);
  CHECK(b.t_int(32, false) != i32);
  CHECK(b.c_i32(7) == b.c_i32(7));
  CHECK(b.c_i32(7) != b.c_u32(7));
  uint32_t f32 = b.t_float(32);
  CHECK(b.c_float(f32, 32, 0.5) == b.c_float(f32, 32, 0.5));
  uint32_t arr = b.t_runtime_array(f32, 4);
  CHECK(b.t_runtime_array(f32, 4) == arr);
  uint32_t block = b.t_block({arr}, {0});
  uint32_t sb = b.global_variable(b.t_pointer(spv::StorageClass::StorageBuffer, block),
                                  spv::StorageClass::StorageBuffer);
  b.decorate(sb, spv::Decoration::DescriptorSet, {0});
  b.decorate(sb, spv::Decoration::Binding, {0});
  // for (i = 0; i < 10; ++i) if (i < 5) out[i] = 0.5;
  uint32_t fn = b.begin_function(b.t_void(), b.t_function(b.t_void()));
  codegen::spirv::SpirvBuilder::Loop loop =
      b.begin_loop(i32, true, b.c_i32(0), b.c_i32(10), b.c_i32(1), false);
  uint32_t lt = b.op(spv::Op::OpSLessThan, b.t_bool(), {loop.var, b.c_i32(5)});
  codegen::spirv::SpirvBuilder::If branch = b.begin_if(lt, false);
  uint32_t ptr = b.op(spv::Op::OpAccessChain, b.t_pointer(spv::StorageClass::StorageBuffer, f32),
                      {sb, b.c_i32(0), loop.var});
  b.op_void(spv::Op::OpStore, {ptr, b.c_float(f32, 32, 0.5)});
  b.end_if(branch);
  b.end_loop(loop);
  b.op_void(spv::Op::OpReturn, {});
  b.end_function();
  b.entry_point(fn, "main", {}, 64, 1, 1);
  std::vector<uint32_t> words = b.finish();
  CHECK(words[0] == spv::MagicNumber);
  CHECK(words[1] == 0x00010300u);
  std::string msg = validate(words);
  if (!msg.empty()) FAIL(msg);
}

TEST_CASE("spirv codegen: unsupported input names the problem", "[codegen][spirv]") {
  Target t = Target::parse("vulkan");
  Var n("n"), tx("tx");
  Buffer A = Buffer::make("A", DataType::bf16(), {n});
  PrimFunc bf =
      make_prim_func("bf", {A}, thread_loop(tx, 64, ThreadAxis::kThreadX, store(A, {tx}, A(tx))));
  CHECK_THROWS_WITH(compile(bf, t), Catch::Contains("kernel 'bf'") && Catch::Contains("bf16"));
  Buffer B = Buffer::make("B", DataType::f32(), {n});
  PrimFunc big = make_prim_func(
      "big", {B}, thread_loop(tx, 512, ThreadAxis::kThreadX, store(B, {tx}, Expr(1.0))));
  CHECK_THROWS_WITH(compile(big, t), Catch::Contains("-max-threads=256"));
  Buffer H = Buffer::make("H", DataType::f16(), {n});
  PrimFunc h =
      make_prim_func("h", {H}, thread_loop(tx, 64, ThreadAxis::kThreadX, store(H, {tx}, H(tx))));
  CHECK_THROWS_WITH(codegen::build_spirv_kernel(h, Target::parse("cuda")),
                    Catch::Contains("not a vulkan target"));
}

TEST_CASE("spirv codegen: the standard kernels validate", "[codegen][spirv][cases]") {
  for (const char* spec : {"vulkan", "vulkan -f16=0 -subgroup=8", "vulkan -storage16=0"}) {
    int validated = 0;
    check_cases(check::standard_cases(), Target::parse(spec), &validated);
    CHECK(validated == static_cast<int>(check::standard_cases().size()));
  }
}

TEST_CASE("spirv codegen: the model kernels validate", "[codegen][spirv][cases]") {
  // The default (-subgroup=8, lavapipe's width) and NVIDIA's 32-lane subgroups, each within
  // the default 32 KB of workgroup memory.
  for (const char* spec :
       {"vulkan", "vulkan -f16=0", "vulkan -storage16=0", "vulkan -subgroup=32"}) {
    Target t = Target::parse(spec);
    int validated = 0;
    check_cases(check::linear_cases(), t, &validated);
    check_cases(check::elementwise_cases(), t, &validated);
    check_cases(check::attention_cases(), t, &validated);
    CHECK(validated ==
          static_cast<int>(check::linear_cases().size() + check::elementwise_cases().size() +
                           check::attention_cases().size()));
  }
}
