// NVPTX code generation: PTX text with thread indices, shared memory, barriers and warp
// shuffles, accepted by ptxas (when the CUDA toolkit is installed), and launch dims.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>

#include "runtime/error.h"
#include "tests/codegen/test_helpers.h"

using namespace mlcc;
using namespace mlcc::ir;
using mlcc::test::TempDir;

namespace {

// Per block of 128 threads: stage A in shared memory, barrier, combine mirrored elements
// and reduce across 32 lanes with xor shuffles; a 64-thread tail loop needs a guard.
PrimFunc block_kernel(Var n) {
  Var bx("bx"), tx("tx"), v("v", DataType::f32()), w("w", DataType::f32());
  Buffer A = Buffer::make("A", DataType::f32(), {n});
  Buffer Out = Buffer::make("Out", DataType::f32(), {n});
  Buffer Tail = Buffer::make("Tail", DataType::f32(), {64});
  Buffer S = Buffer::make("S", DataType::f32(), {128}, MemScope::kShared);
  Expr gid = bx * 128 + tx;
  Expr shuffled = call(DataType::f32(), Intrinsic::kWarpShuffleXor, {v, Expr(16), Expr(32)});
  Stmt body = thread_loop(
      bx, (n + 127) / 128, ThreadAxis::kBlockX,
      allocate(S, seq({thread_loop(tx, 128, ThreadAxis::kThreadX,
                                   store(S, {tx}, select(gid < n, A(gid), Expr(0.0)))),
                       sync_threads(),
                       thread_loop(tx, 128, ThreadAxis::kThreadX,
                                   let_stmt(v, S(tx) + S(127 - tx),
                                            let_stmt(w, v + shuffled,
                                                     if_then_else(gid < n, store(Out, {gid}, w))))),
                       thread_loop(tx, 64, ThreadAxis::kThreadX,
                                   if_then_else(eq(bx, 0), store(Tail, {tx}, S(tx))))})));
  return make_prim_func("block_reduce", {A, Out, Tail}, body);
}

// f16 math, 64-bit and f16 shuffles, and a 2-D grid.
PrimFunc misc_kernel() {
  Var m("m"), by("by"), bx("bx"), tx("tx");
  Buffer H = Buffer::make("H", DataType::f16(), {m, 256});
  Buffer L = Buffer::make("L", DataType::i64(), {m, 256});
  Expr h = H(by, bx * 32 + tx);
  Expr f = cast(DataType::f32(), h);
  Expr math = exp(f) + tanh(f) + rsqrt(f * f + Expr(1.0)) + log(f * f + Expr(1.0)) +
              call(DataType::f32(), Intrinsic::kErf, {f});
  Expr down = call(DataType::f16(), Intrinsic::kWarpShuffleDown, {h * h, Expr(1), Expr(32)});
  Expr l64 =
      call(DataType::i64(), Intrinsic::kWarpShuffleXor, {L(by, bx * 32 + tx), Expr(1), Expr(32)});
  Stmt body = thread_loop(
      by, m, ThreadAxis::kBlockY,
      thread_loop(bx, 8, ThreadAxis::kBlockX,
                  thread_loop(tx, 32, ThreadAxis::kThreadX,
                              seq({store(H, {by, bx * 32 + tx}, cast(DataType::f16(), math) + down),
                                   store(L, {by, bx * 32 + tx}, l64)}))));
  return make_prim_func("misc", {H, L}, body);
}

bool ptxas_accepts(const std::string& ptx, const std::string& arch, std::string* log) {
  TempDir dir;
  std::string src = dir.path + "/k.ptx", out = dir.path + "/ptxas.log";
  std::ofstream(src) << ptx;
  std::string cmd = std::string(MLCC_PTXAS) + " -arch=" + arch + " " + src + " -o " + dir.path +
                    "/k.cubin > " + out + " 2>&1";
  int rc = std::system(cmd.c_str());
  std::ifstream in(out);
  log->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return rc == 0;
}

}  // namespace

TEST_CASE("nvptx codegen: kernels with shared memory, barrier and shuffles", "[codegen][nvptx]") {
  for (const char* arch : {"sm_80", "sm_90"}) {
    INFO(arch);
    Var n("n");
    std::string ptx;
    std::vector<codegen::CudaKernel> ks = codegen::compile_cuda(
        {block_kernel(n), misc_kernel()}, Target::parse(std::string("cuda -arch=") + arch), &ptx);
    REQUIRE(ks.size() == 2);
    INFO(ptx);
    CHECK(ptx.find(".entry block_reduce") != std::string::npos);
    CHECK(ptx.find(".entry misc") != std::string::npos);
    CHECK(ptx.find(".target " + std::string(arch)) != std::string::npos);
    CHECK(ptx.find("bar.sync") != std::string::npos);
    CHECK(ptx.find("shfl.sync.bfly") != std::string::npos);
    CHECK(ptx.find("shfl.sync.down") != std::string::npos);
    CHECK(ptx.find(".shared") != std::string::npos);
    CHECK(ptx.find("%tid.x") != std::string::npos);
    CHECK(ptx.find("%ctaid.y") != std::string::npos);
    CHECK(ptx.find("ex2.approx") != std::string::npos);
    CHECK(ks[0].ptx == ptx);
    CHECK(ks[0].shared_bytes == 512);
    CHECK(ks[1].shared_bytes == 0);

    // Launch dims over the scalar params: grid.x = ceil(n / 128), block.x = max(128, 64).
    CHECK(codegen::eval_launch_dim(ks[0].grid[0], {{n, 1000}}) == 8);
    CHECK(codegen::eval_launch_dim(ks[0].grid[0], {{n, 1024}}) == 8);
    CHECK(codegen::eval_launch_dim(ks[0].grid[0], {{n, 1025}}) == 9);
    CHECK(codegen::eval_launch_dim(ks[0].block[0], {}) == 128);
    CHECK(codegen::eval_launch_dim(ks[0].grid[1], {}) == 1);
    CHECK(codegen::eval_launch_dim(ks[1].grid[0], {}) == 8);
    CHECK(codegen::eval_launch_dim(ks[1].block[0], {}) == 32);
    CHECK_THROWS_WITH(codegen::eval_launch_dim(ks[1].grid[1], {}), Catch::Contains("'m'"));

    if (!std::filesystem::exists(MLCC_PTXAS)) {
      WARN("ptxas not found at " MLCC_PTXAS "; PTX not assembled");
      continue;
    }
    std::string log;
    CHECK(ptxas_accepts(ptx, arch, &log));
    INFO(log);
  }
}

TEST_CASE("nvptx codegen: the tail loop is guarded, full loops are not", "[codegen][nvptx]") {
  Var n("n");
  std::string ir = codegen::emit_llvm_ir({block_kernel(n)}, Target::parse("cuda -arch=sm_90"));
  INFO(ir);
  CHECK(ir.find("ptx_kernel void @block_reduce(ptr addrspace(1)") != std::string::npos);
  CHECK(ir.find("addrspace(3) global [128 x float]") != std::string::npos);
  CHECK(ir.find("!\"kernel\"") != std::string::npos);
  CHECK(ir.find("icmp ult i32 %") != std::string::npos);  // tid.x < 64 guard
}

TEST_CASE("nvptx codegen: errors name the buffer", "[codegen][nvptx]") {
  Var n("n"), bx("bx");
  Buffer A = Buffer::make("A", DataType::f32(), {n});
  Buffer S = Buffer::make("Scratch", DataType::f32(), {n}, MemScope::kShared);
  Stmt body = thread_loop(bx, n, ThreadAxis::kBlockX, allocate(S, store(A, {bx}, Expr(1.0))));
  CHECK_THROWS_WITH(
      codegen::compile_cuda({make_prim_func("k", {A}, body)}, Target::parse("cuda -arch=sm_80")),
      Catch::Contains("'Scratch'") && Catch::Contains("symbolic"));
}
