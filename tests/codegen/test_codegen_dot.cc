// dot_i16_pairs (Intrinsic::kDotI16Pairs): the builder's and the verifier's type checks, and
// the interpreter and compiled CPU code agreeing with the definition lane by lane, wrapping
// at the i32 extremes included, for a full AVX-512 register (16 lanes), half of one, 12
// lanes (no power of two: LLVM's own pattern) and a scalar; on this host and on x86-64
// levels without AVX-512 (pmaddwd in halves and quarters) where this host runs them.
#include <catch2/catch.hpp>
#include <cstdint>
#include <random>

#include "ir/interpreter.h"
#include "ir/verifier.h"
#include "runtime/error.h"
#include "tests/codegen/test_helpers.h"

using namespace mlcc;
using namespace mlcc::ir;
using mlcc::test::AlignedBuf;
using mlcc::test::TempDir;

namespace {

// O[i] = dot_i16_pairs(A[2i...], B[2i...], C[i...]) over vectors of n lanes.
PrimFunc dot_kernel(int n, int vectors) {
  Buffer A = Buffer::make("A", DataType::i16(), {Expr(2 * n * vectors)});
  Buffer B = Buffer::make("B", DataType::i16(), {Expr(2 * n * vectors)});
  Buffer C = Buffer::make("C", DataType::i32(), {Expr(n * vectors)});
  Buffer O = Buffer::make("O", DataType::i32(), {Expr(n * vectors)});
  Var v("v");
  auto lanes = [&](const Buffer& buf, int w) {
    return buf(n * w == 1 ? v : ramp(v * n * w, 1, n * w));
  };
  Expr d = dot_i16_pairs(lanes(A, 2), lanes(B, 2), lanes(C, 1));
  Expr index = n == 1 ? Expr(v) : ramp(v * n, 1, n);
  return make_prim_func("dot" + std::to_string(n), {A, B, C, O},
                        for_loop(v, 0, vectors, store(O, {index}, d)));
}

int32_t expected(int16_t a0, int16_t a1, int16_t b0, int16_t b1, int32_t c) {
  uint32_t sum = static_cast<uint32_t>(c) + static_cast<uint32_t>(int32_t{a0} * b0) +
                 static_cast<uint32_t>(int32_t{a1} * b1);
  return static_cast<int32_t>(sum);
}

}  // namespace

TEST_CASE("dot_i16_pairs: the builder and the verifier check the types", "[codegen][cpu][dot]") {
  Buffer a = Buffer::make("a", DataType::i16(), {32});
  Buffer c = Buffer::make("c", DataType::i32(), {16});
  Buffer f = Buffer::make("f", DataType::f32(), {16});
  CHECK(dot_i16_pairs(a(ramp(0, 1, 32)), a(ramp(0, 1, 32)), c(ramp(0, 1, 16))).dtype() ==
        DataType::i32(16));
  CHECK_THROWS_WITH(
      dot_i16_pairs(a(ramp(0, 1, 16)), a(ramp(0, 1, 16)), c(ramp(0, 1, 16))),
      Catch::Contains("(i16x2N, i16x2N, i32xN)") && Catch::Contains("i16x16, i16x16, i32x16"));
  CHECK_THROWS_WITH(dot_i16_pairs(a(ramp(0, 1, 32)), a(ramp(0, 1, 32)), f(ramp(0, 1, 16))),
                    Catch::Contains("f32x16"));
  Expr bad = call(DataType::i32(16), Intrinsic::kDotI16Pairs,
                  {c(ramp(0, 1, 16)), c(ramp(0, 1, 16)), c(ramp(0, 1, 16))});
  PrimFunc k = make_prim_func("bad", {a, c}, store(c, {ramp(0, 1, 16)}, bad));
  std::vector<std::string> errors = verify_errors(k);
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::Contains("dot_i16_pairs takes (i16x2N, i16x2N, i32xN)") &&
                            Catch::Contains("got (i32x16, i32x16, i32x16) -> i32x16"));
}

TEST_CASE("dot_i16_pairs: interpreter and CPU code match the definition", "[codegen][cpu][dot]") {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> i16(-32768, 32767);
  std::uniform_int_distribution<int32_t> i32(INT32_MIN, INT32_MAX);
  TempDir dir;
  std::vector<Target> targets = {Target::host_cpu()};
  if (Target::host_cpu().triple.rfind("x86_64", 0) == 0)
    for (const char* cpu : {"x86-64", "x86-64-v3"})
      targets.push_back(Target::parse(std::string("cpu -mcpu=") + cpu));
  for (const Target& target : targets)
    for (int n : {16, 8, 12, 1}) {
      INFO(target.str() << ", lanes " << n);
      const int vectors = 3, pairs = n * vectors;
      std::vector<int16_t> a(2 * pairs), b(2 * pairs);
      std::vector<int32_t> c(pairs), want(pairs), interp(pairs, 0);
      for (auto& x : a) x = static_cast<int16_t>(i16(rng));
      for (auto& x : b) x = static_cast<int16_t>(i16(rng));
      for (auto& x : c) x = i32(rng);
      // The extremes: two products of 2^30 wrap past INT32_MAX; c at both ends.
      a[0] = a[1] = b[0] = b[1] = -32768;
      c[0] = 0;
      c[pairs - 1] = INT32_MIN;
      for (int l = 0; l < pairs; ++l)
        want[l] = expected(a[2 * l], a[2 * l + 1], b[2 * l], b[2 * l + 1], c[l]);
      CHECK(want[0] == INT32_MIN);
      PrimFunc f = dot_kernel(n, vectors);
      REQUIRE(verify_errors(f).empty());
      interpret(f, {host_buffer(a), host_buffer(b), host_buffer(c), host_buffer(interp)}, {});
      CHECK(interp == want);

      auto mod = test::build_and_load({f}, dir, f.name + target.mcpu, target);
      AlignedBuf<int16_t> da(a.size()), db(b.size());
      AlignedBuf<int32_t> dc(c.size()), out(pairs);
      std::copy(a.begin(), a.end(), da.data());
      std::copy(b.begin(), b.end(), db.data());
      std::copy(c.begin(), c.end(), dc.data());
      REQUIRE(test::run(mod->function(f.name), {da.data(), db.data(), dc.data(), out.data()}, {}) ==
              0);
      CHECK(std::vector<int32_t>(out.data(), out.data() + pairs) == want);
    }
}
