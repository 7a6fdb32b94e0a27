// mma_m16n8k16 in the IR: the builder's type checks, the printer, the verifier, and the
// interpreter's warp-wide product in the fragment layout of ir/expr.h (every warp of a
// block multiplies its own tiles; a partial warp or a divergent mma is an error).
#include <catch2/catch.hpp>
#include <random>

#include "ir/half.h"
#include "ir/interpreter.h"
#include "ir/printer.h"
#include "ir/verifier.h"
#include "runtime/error.h"
#include "tests/mma_test_kernel.h"

using namespace mlcc::ir;

TEST_CASE("mma: the builder checks the fragment types", "[ir][mma]") {
  Buffer af = Buffer::make("af", DataType::f16(), {8}, MemScope::kLocal);
  Buffer bf = Buffer::make("bf", DataType::f16(), {4}, MemScope::kLocal);
  Buffer cf = Buffer::make("cf", DataType::f32(), {4}, MemScope::kLocal);
  Expr d = mma_m16n8k16(af(ramp(0, 1, 8)), bf(ramp(0, 1, 4)), cf(ramp(0, 1, 4)));
  CHECK(d.dtype() == DataType::f32(4));
  CHECK(to_string(d) == "mma_m16n8k16(af[ramp(0, 1, 8)], bf[ramp(0, 1, 4)], cf[ramp(0, 1, 4)])");
  CHECK_THROWS_WITH(mma_m16n8k16(af(ramp(0, 1, 8)), af(ramp(0, 1, 8)), cf(ramp(0, 1, 4))),
                    Catch::Contains("(f16x8, f16x4, f32x4)") && Catch::Contains("f16x8, f16x8"));
}

TEST_CASE("mma: the verifier checks types and the thread context", "[ir][mma]") {
  Buffer A = Buffer::make("A", DataType::f16(), {8});
  Buffer Cb = Buffer::make("C", DataType::f32(), {4});
  Var tx("tx");
  // Fragments of the wrong width, built without the checking builder.
  Expr bad = call(DataType::f32(4), Intrinsic::kMmaSync,
                  {A(ramp(0, 1, 8)), A(ramp(0, 1, 8)), Cb(ramp(0, 1, 4))});
  PrimFunc f1 =
      make_prim_func("bad_types", {A, Cb},
                     thread_loop(tx, 32, ThreadAxis::kThreadX, store(Cb, {ramp(0, 1, 4)}, bad)));
  std::vector<std::string> e1 = verify_errors(f1);
  REQUIRE(e1.size() == 1);
  CHECK_THAT(e1[0], Catch::Contains("mma_m16n8k16 takes (f16x8, f16x4, f32x4)") &&
                        Catch::Contains("got (f16x8, f16x8, f32x4)"));
  Expr good = mma_m16n8k16(A(ramp(0, 1, 8)), A(ramp(0, 1, 4)), Cb(ramp(0, 1, 4)));
  PrimFunc f2 = make_prim_func("no_threads", {A, Cb}, store(Cb, {ramp(0, 1, 4)}, good));
  std::vector<std::string> e2 = verify_errors(f2);
  REQUIRE(e2.size() == 1);
  CHECK_THAT(e2[0], Catch::Contains("mma_m16n8k16() outside any threadIdx loop"));
  CHECK(verify_errors(mlcc::testing::mma_test_kernel(2)).empty());
}

TEST_CASE("mma: the interpreter multiplies each warp's tiles", "[ir][mma][interpreter]") {
  const int W = 3;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<uint16_t> a(W * 256), b(W * 128);
  std::vector<float> c(W * 128), d(W * 128, NAN);
  for (auto& x : a) x = mlcc::float_to_half(dist(rng));
  for (auto& x : b) x = mlcc::float_to_half(dist(rng));
  for (auto& x : c) x = dist(rng);
  interpret(mlcc::testing::mma_test_kernel(W),
            {host_buffer(a), host_buffer(b), host_buffer(c), host_buffer(d)}, {});
  for (int w = 0; w < W; ++w)
    for (int r = 0; r < 16; ++r)
      for (int col = 0; col < 8; ++col) {
        double sum = c[w * 128 + r * 8 + col];
        for (int k = 0; k < 16; ++k)
          sum += double(mlcc::half_to_float(a[w * 256 + r * 16 + k])) *
                 mlcc::half_to_float(b[w * 128 + k * 8 + col]);
        INFO("warp " << w << " D[" << r << "][" << col << "]");
        REQUIRE(d[w * 128 + r * 8 + col] == static_cast<float>(sum));
      }
}

TEST_CASE("mma: a partial or divergent warp cannot multiply", "[ir][mma][interpreter]") {
  Buffer A = Buffer::make("A", DataType::f16(), {8});
  Buffer Cb = Buffer::make("C", DataType::f32(), {4});
  Var tx("tx");
  std::vector<uint16_t> a(8, 0);
  std::vector<float> c(4, 0.0f);
  Expr mma = mma_m16n8k16(A(ramp(0, 1, 8)), A(ramp(0, 1, 4)), Cb(ramp(0, 1, 4)));
  Stmt sixteen =
      thread_loop(tx, 16, ThreadAxis::kThreadX,
                  if_then_else(eq(tx, 0), store(Cb, {ramp(0, 1, 4)}, mma), evaluate(mma)));
  CHECK_THROWS_WITH(
      interpret(make_prim_func("half_warp", {A, Cb}, sixteen), {host_buffer(a), host_buffer(c)},
                {}),
      Catch::Contains("mma_m16n8k16 needs a full warp of 32 threads; this one has 16"));
  Stmt divergent = thread_loop(tx, 32, ThreadAxis::kThreadX,
                               if_then_else(tx < 8, store(Cb, {ramp(0, 1, 4)}, mma)));
  CHECK_THROWS_WITH(interpret(make_prim_func("divergent", {A, Cb}, divergent),
                              {host_buffer(a), host_buffer(c)}, {}),
                    Catch::Contains("8 mma_m16n8k16") && Catch::Contains("24 finished"));
}
