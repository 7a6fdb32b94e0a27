// CPU code generation of vector code, selects, casts and math intrinsics.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "ir/printer.h"
#include "passes/vectorize_loop.h"
#include "tests/codegen/test_helpers.h"

using namespace mlcc;
using namespace mlcc::ir;
using mlcc::test::AlignedBuf;
using mlcc::test::TempDir;

namespace {

bool close_rel(double got, double want, double tol) {
  if (std::isnan(want)) return std::isnan(got);
  if (got == want) return true;  // infinities included
  return std::fabs(got - want) <= tol * std::max(std::fabs(want), 1e-30);
}

}  // namespace

TEST_CASE("cpu codegen: vectorized loops become vector instructions", "[codegen][cpu]") {
  Var n("n"), io("io"), j("j");
  Buffer A = Buffer::make("A", DataType::f32(), {n, 16});
  Buffer B = Buffer::make("B", DataType::f32(), {n, 16});
  Stmt body = for_loop(
      io, 0, n,
      for_loop(j, 0, 16, store(B, {io, j}, A(io, j) * A(io, j) + Expr(1.0)), ForKind::kVectorized));
  PrimFunc f = make_prim_func("square", {A, B}, body);
  CHECK(to_string(passes::vectorize_loops(f).body) ==
        "for io in range(0, n) {\n"
        "  B[io, ramp(0, 1, 16)] = ((A[io, ramp(0, 1, 16)] * A[io, ramp(0, 1, 16)]) + "
        "broadcast(1.0f, 16))\n"
        "}\n");
  std::string ir = codegen::emit_llvm_ir({f}, Target::host_cpu());
  INFO(ir);
  CHECK((ir.find("<16 x float>") != std::string::npos ||
         ir.find("<8 x float>") != std::string::npos));
  CHECK(ir.find("define protected noundef i32 @square(ptr") != std::string::npos);

  TempDir dir;
  auto mod = test::build_and_load({f}, dir, "square");
  int64_t len = 5;
  AlignedBuf<float> a(len * 16), b(len * 16);
  for (int64_t k = 0; k < len * 16; ++k) a[k] = 0.125f * k - 4.0f;
  REQUIRE(test::run(mod->function("square"), {a.data(), b.data()}, {len}) == 0);
  for (int64_t k = 0; k < len * 16; ++k) CHECK(b[k] == a[k] * a[k] + 1.0f);
}

TEST_CASE("cpu codegen: select, casts and math intrinsics match libm", "[codegen][cpu]") {
  Var n("n"), i("i"), j("j");
  Buffer X = Buffer::make("X", DataType::f32(), {n, 8});
  Buffer O = Buffer::make("O", DataType::f32(), {n, 8, 8});
  Buffer I = Buffer::make("I", DataType::i32(), {n, 8, 3});
  Expr x = X(i, j);
  Expr pos = fabs(x) + Expr(0.5);
  auto out = [&](int k, Expr v) { return store(O, {i, j, k}, v); };
  Stmt vec_body = seq(
      {out(0, exp(x)), out(1, tanh(x)), out(2, rsqrt(pos)), out(3, log(pos)), out(4, sqrt(pos)),
       out(5, call(DataType::f32(), Intrinsic::kErf, {x})),
       out(6, select(x > Expr(0.0), x, x * Expr(0.01))),
       out(7, call(DataType::f32(), Intrinsic::kPow, {pos, Expr(1.5)})),
       store(I, {i, j, 0}, cast(DataType::i32(), x * Expr(100.0))),
       store(I, {i, j, 1}, cast(DataType::i32(), x > Expr(0.0))),
       store(I, {i, j, 2},
             cast(DataType::i32(), cast(DataType::u8(), cast(DataType::i32(), x * Expr(100.0)))))});
  // Once vectorized (lanes of 8) and once as scalar code.
  for (ForKind kind : {ForKind::kVectorized, ForKind::kSerial}) {
    Stmt body = for_loop(i, 0, n, for_loop(j, 0, 8, vec_body, kind));
    TempDir dir;
    auto mod = test::build_and_load({make_prim_func("math", {X, O, I}, body)}, dir, "math");
    int64_t len = 40;
    AlignedBuf<float> xv(len * 8), ov(len * 64);
    AlignedBuf<int32_t> iv(len * 24);
    for (int64_t k = 0; k < len * 8; ++k)
      xv[k] = (k % 2 ? 1.0f : -1.0f) * std::pow(1.07f, k % 97 - 60) * 5.0f;
    xv[0] = 0.0f;
    xv[1] = 1e-6f;
    xv[2] = -0.6f;
    xv[3] = 0.63f;
    xv[4] = 88.5f;  // exp near the top of the float range
    xv[5] = -87.0f;
    xv[6] = 89.0f;  // exp overflows to inf
    REQUIRE(test::run(mod->function("math"), {xv.data(), ov.data(), iv.data()}, {len}) == 0);
    for (int64_t k = 0; k < len * 8; ++k) {
      float v = xv[k];
      float p = std::fabs(v) + 0.5f;
      const float* o = &ov[k * 8];
      INFO("x = " << v);
      CHECK(close_rel(o[0], std::exp(v), 1e-6));
      CHECK(close_rel(o[1], std::tanh(v), 1e-6));
      CHECK(close_rel(o[2], 1.0 / std::sqrt(p), 1e-6));
      CHECK(close_rel(o[3], std::log(p), 1e-6));
      CHECK(close_rel(o[4], std::sqrt(p), 1e-6));
      CHECK(close_rel(o[5], std::erf(v), 1e-6));
      CHECK(o[6] == (v > 0 ? v : v * 0.01f));
      CHECK(close_rel(o[7], std::pow(p, 1.5f), 1e-6));
      CHECK(iv[k * 3 + 0] == static_cast<int32_t>(v * 100.0f));
      CHECK(iv[k * 3 + 1] == (v > 0 ? 1 : 0));
      CHECK(iv[k * 3 + 2] ==
            static_cast<int32_t>(static_cast<uint8_t>(static_cast<int32_t>(v * 100.0f))));
    }
  }
}

TEST_CASE("cpu codegen: float to int casts saturate, NaN gives 0", "[codegen][cpu]") {
  Var n("n"), i("i");
  Buffer X = Buffer::make("X", DataType::f32(), {n});
  Buffer O = Buffer::make("O", DataType::i32(), {n});
  TempDir dir;
  auto mod = test::build_and_load(
      {make_prim_func("sat", {X, O},
                      for_loop(i, 0, n, store(O, {i}, cast(DataType::i32(), X(i)))))},
      dir, "sat");
  AlignedBuf<float> x(4);
  AlignedBuf<int32_t> o(4);
  x[0] = 1e20f, x[1] = -1e20f, x[2] = std::numeric_limits<float>::quiet_NaN(), x[3] = -2.7f;
  REQUIRE(test::run(mod->function("sat"), {x.data(), o.data()}, {4}) == 0);
  CHECK(o[0] == std::numeric_limits<int32_t>::max());
  CHECK(o[1] == std::numeric_limits<int32_t>::min());
  CHECK(o[2] == 0);
  CHECK(o[3] == -2);
}
