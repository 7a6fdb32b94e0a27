// Interpreter tests on host memory: value semantics (wrapping, floor division, f16 storage,
// bit unpacking, vectors), memory errors, and GPU semantics: barriers, shuffles and
// cross-thread reductions run on fibers.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>

#include "ir/half.h"
#include "ir/interpreter.h"
#include "runtime/error.h"

using namespace mlcc::ir;

namespace {

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

}  // namespace

TEST_CASE("interpreter: elementwise add with broadcast", "[ir][interpreter]") {
  Var m("m"), n("n");
  Buffer A = Buffer::make("A", DataType::f32(), {m, n});
  Buffer B = Buffer::make("B", DataType::f32(), {n});
  Buffer C = Buffer::make("C", DataType::f32(), {m, n});
  Var i("i"), j("j");
  PrimFunc f = make_prim_func(
      "add", {A, B, C}, for_loop(i, 0, m, for_loop(j, 0, n, store(C, {i, j}, A(i, j) + B(j)))));
  const int M = 64, N = 256;
  std::vector<float> a = random_floats(M * N, 1), b = random_floats(N, 2), c(M * N, NAN);
  interpret(f, {host_buffer(a), host_buffer(b), host_buffer(c)}, {M, N});
  for (int r = 0; r < M; ++r)
    for (int k = 0; k < N; ++k) REQUIRE(c[r * N + k] == a[r * N + k] + b[k]);
}

TEST_CASE("interpreter: f16 storage with f32 math", "[ir][interpreter]") {
  Buffer A = Buffer::make("A", DataType::f16(), {128});
  Buffer B = Buffer::make("B", DataType::f16(), {128});
  Buffer C = Buffer::make("C", DataType::f16(), {128});
  Var i("i");
  Expr prod = cast(DataType::f32(), A(i)) * cast(DataType::f32(), B(i)) + 1.0;
  Expr direct = A(i) * B(i);  // f16 math: rounded to f16 after the multiply
  Buffer D = Buffer::make("D", DataType::f16(), {128});
  PrimFunc f = make_prim_func(
      "f16", {A, B, C, D},
      for_loop(i, 0, 128,
               seq({store(C, {i}, cast(DataType::f16(), exp(prod))), store(D, {i}, direct)})));
  std::vector<float> fa = random_floats(128, 3), fb = random_floats(128, 4);
  std::vector<uint16_t> a(128), b(128), c(128), d(128);
  for (int k = 0; k < 128; ++k)
    a[k] = mlcc::float_to_half(fa[k]), b[k] = mlcc::float_to_half(fb[k]);
  interpret(f, {host_buffer(a), host_buffer(b), host_buffer(c), host_buffer(d)}, {});
  for (int k = 0; k < 128; ++k) {
    float x = mlcc::half_to_float(a[k]), y = mlcc::half_to_float(b[k]);
    float p = static_cast<float>(static_cast<double>(x) * y);
    float e = static_cast<float>(std::exp(static_cast<double>(p + 1.0f)));
    REQUIRE(c[k] == mlcc::float_to_half(e));
    REQUIRE(d[k] == mlcc::float_to_half(x * y));
  }
}

TEST_CASE("interpreter: integer arithmetic wraps at the type's width", "[ir][interpreter]") {
  Buffer A = Buffer::make("A", DataType::i32(), {64});
  Buffer B = Buffer::make("B", DataType::i32(), {64});
  Buffer S8 = Buffer::make("S8", DataType::i8(), {64});
  Buffer U8 = Buffer::make("U8", DataType::u8(), {64});
  Buffer SH = Buffer::make("SH", DataType::i32(), {64});
  Buffer USH = Buffer::make("USH", DataType::u32(), {64});
  Var i("i");
  Expr ua = cast(DataType::u32(), A(i));
  PrimFunc f = make_prim_func(
      "wrap", {A, B, S8, U8, SH, USH},
      for_loop(i, 0, 64,
               seq({store(B, {i}, A(i) * 65599 + 2147483647),
                    store(S8, {i},
                          cast(DataType::i8(), A(i)) + make_const(DataType::i8(), int64_t{100})),
                    store(U8, {i},
                          cast(DataType::u8(), A(i)) - make_const(DataType::u8(), int64_t{200})),
                    store(SH, {i}, A(i) >> 7),  // arithmetic
                    store(USH, {i}, ua >> make_const(DataType::u32(), int64_t{7}))})));  // logical
  std::mt19937 rng(5);
  std::vector<int32_t> a(64), b(64), sh(64);
  std::vector<int8_t> s8(64);
  std::vector<uint8_t> u8(64);
  std::vector<uint32_t> ush(64);
  for (int32_t& x : a) x = static_cast<int32_t>(rng());
  interpret(f,
            {host_buffer(a), host_buffer(b), host_buffer(s8), host_buffer(u8), host_buffer(sh),
             host_buffer(ush)},
            {});
  for (int k = 0; k < 64; ++k) {
    uint32_t ux = static_cast<uint32_t>(a[k]);
    REQUIRE(b[k] == static_cast<int32_t>(ux * 65599u + 2147483647u));
    REQUIRE(s8[k] == static_cast<int8_t>(static_cast<uint8_t>(a[k]) + 100));
    REQUIRE(u8[k] == static_cast<uint8_t>(static_cast<uint8_t>(a[k]) - 200));
    REQUIRE(sh[k] == (a[k] >> 7));
    REQUIRE(ush[k] == (ux >> 7));
  }
}

TEST_CASE("interpreter: floor division and modulo on negatives", "[ir][interpreter]") {
  Buffer A = Buffer::make("A", DataType::i32(), {16});
  Buffer B = Buffer::make("B", DataType::i32(), {16});
  Buffer Q = Buffer::make("Q", DataType::i32(), {16});
  Buffer R = Buffer::make("R", DataType::i32(), {16});
  Var i("i");
  PrimFunc f = make_prim_func(
      "divmod", {A, B, Q, R},
      for_loop(i, 0, 16, seq({store(Q, {i}, A(i) / B(i)), store(R, {i}, A(i) % B(i))})));
  std::vector<int32_t> a = {7, -7, 7, -7, 0, -1, -8, 8, 13, -13, 1, -100, 5, -5, 6, -6};
  std::vector<int32_t> b = {2, 2, -2, -2, 3, 4, 4, -3, 5, 5, -7, 9, 5, 5, -4, -4};
  std::vector<int32_t> q(16), r(16);
  interpret(f, {host_buffer(a), host_buffer(b), host_buffer(q), host_buffer(r)}, {});
  for (int k = 0; k < 16; ++k) {
    int32_t fq = static_cast<int32_t>(std::floor(static_cast<double>(a[k]) / b[k]));
    INFO(a[k] << " / " << b[k]);
    CHECK(q[k] == fq);
    CHECK(r[k] == a[k] - fq * b[k]);
    CHECK((r[k] == 0 || (r[k] < 0) == (b[k] < 0)));  // the remainder takes the divisor's sign
  }
  b[3] = 0;
  CHECK_THROWS_WITH(
      interpret(f, {host_buffer(a), host_buffer(b), host_buffer(q), host_buffer(r)}, {}),
      Catch::Contains("interpret divmod: integer division by zero in `(A[i] / B[i])`"));
}

TEST_CASE("interpreter: u32 words unpacked into 4-bit values", "[ir][interpreter]") {
  // out[i] = f32(((W[i / 8] >> ((i % 8) * 4)) & 15)) - 7, as q4 dequantization does.
  Var n("n");
  Buffer W = Buffer::make("W", DataType::u32(), {n});
  Buffer O = Buffer::make("O", DataType::f32(), {n * 8});
  Var i("i");
  Expr shift = cast(DataType::u32(), (i % 8) * 4);
  Expr q = (W(i / 8) >> shift) & make_const(DataType::u32(), int64_t{15});
  PrimFunc f = make_prim_func("unpack", {W, O},
                              for_loop(i, 0, n * 8, store(O, {i}, cast(DataType::f32(), q) - 7.0)));
  std::mt19937 rng(6);
  std::vector<uint32_t> w(32);
  for (uint32_t& x : w) x = rng();
  std::vector<float> o(256);
  interpret(f, {host_buffer(w), host_buffer(o)}, {32});
  for (int k = 0; k < 256; ++k)
    REQUIRE(o[k] == static_cast<float>((w[k / 8] >> (4 * (k % 8))) & 15u) - 7.0f);
}

TEST_CASE("interpreter: vector ramp loads, gathers and scatters", "[ir][interpreter]") {
  Buffer A = Buffer::make("A", DataType::f32(), {64});
  Buffer B = Buffer::make("B", DataType::f32(), {64});
  Buffer T = Buffer::make("T", DataType::f32(), {4, 16});
  Var i("i");
  Expr contiguous = A(ramp(i * 4, 1, 4));  // A[4i .. 4i+3]
  Expr strided = A(ramp(i, 16, 4));        // A[i], A[i+16], A[i+32], A[i+48]
  PrimFunc f = make_prim_func(
      "vec", {A, B, T},
      for_loop(i, 0, 16,
               seq({store(B, {ramp(i * 4, 1, 4)}, contiguous * broadcast(Expr(2.0), 4) + strided),
                    // Scatter row i of A viewed as 16x4 into column i of T (4x16).
                    store(T, {ramp(0, 1, 4), broadcast(i, 4)}, contiguous)}),
               ForKind::kVectorized));
  std::vector<float> a = random_floats(64, 7), b(64), t(64);
  interpret(f, {host_buffer(a), host_buffer(b), host_buffer(t)}, {});
  for (int r = 0; r < 16; ++r)
    for (int l = 0; l < 4; ++l) {
      REQUIRE(b[r * 4 + l] == a[r * 4 + l] * 2.0f + a[r + 16 * l]);
      REQUIRE(t[l * 16 + r] == a[r * 4 + l]);
    }
}

TEST_CASE("interpreter: out-of-bounds accesses are errors naming the buffer", "[ir][interpreter]") {
  Buffer A = Buffer::make("A", DataType::f32(), {16});
  Buffer B = Buffer::make("B", DataType::f32(), {4, 4});
  Var i("i");
  PrimFunc load =
      make_prim_func("oob", {A, B}, for_loop(i, 0, 17, store(B, {i / 4 % 4, i % 4}, A(i))));
  std::vector<float> a(16, 1.0f), b(16);
  CHECK_THROWS_WITH(interpret(load, {host_buffer(a), host_buffer(b)}, {}),
                    Catch::Contains("interpret oob: out-of-bounds load of buffer 'A': index [16] "
                                    "is outside its shape [16] in `A[i]`"));
  PrimFunc st = make_prim_func("oob", {A, B}, for_loop(i, 0, 16, store(B, {i / 4, i - 3}, A(i))));
  CHECK_THROWS_WITH(interpret(st, {host_buffer(a), host_buffer(b)}, {}),
                    Catch::Contains("out-of-bounds store to buffer 'B': index [0, -3] is outside "
                                    "its shape [4, 4]"));
  // Fewer bytes given than the shape needs.
  std::vector<float> small(8);
  PrimFunc copy =
      make_prim_func("copy", {A, B}, for_loop(i, 0, 16, store(B, {i / 4, i % 4}, A(i))));
  CHECK_THROWS_WITH(interpret(copy, {host_buffer(small), host_buffer(b)}, {}),
                    Catch::Contains("load of buffer 'A': index [8] is past the 32 bytes given"));
  // A vector access names the lane.
  PrimFunc vec = make_prim_func("vec", {A, B}, store(B, {0, ramp(2, 1, 4)}, A(ramp(0, 1, 4))));
  CHECK_THROWS_WITH(interpret(vec, {host_buffer(a), host_buffer(b)}, {}),
                    Catch::Contains("index [0, 4] (lane 2) is outside its shape [4, 4]"));
}

TEST_CASE("interpreter: allocations are poisoned, casts and arguments", "[ir][interpreter]") {
  Buffer O = Buffer::make("O", DataType::f32(), {2});
  Buffer I = Buffer::make("I", DataType::i32(), {3});
  Buffer T = Buffer::make("T", DataType::f32(), {Expr(2)}, MemScope::kLocal);
  Buffer U = Buffer::make("U", DataType::i32(), {Expr(1)}, MemScope::kLocal);
  Var x("x", DataType::f32());
  PrimFunc f = make_prim_func(
      "poison", {O, I},
      allocate(T, allocate(U, seq({store(T, {0}, x), store(O, {0}, T(0)), store(O, {1}, T(1)),
                                   store(I, {0}, U(0)), store(I, {1}, cast(DataType::i32(), x)),
                                   store(I, {2}, cast(DataType::i32(), O(1)))}))),
      {x});
  std::vector<float> o(2);
  std::vector<int32_t> iv(3);
  interpret(f, {host_buffer(o), host_buffer(iv)}, {-2.75});
  CHECK(o[0] == -2.75f);
  CHECK(std::isnan(o[1]));  // never written
  CHECK(static_cast<uint32_t>(iv[0]) == 0xCDCDCDCDu);
  CHECK(iv[1] == -2);  // truncation toward zero
  CHECK(iv[2] == 0);   // NaN converts to 0
  CHECK_THROWS_WITH(interpret(f, {host_buffer(o)}, {1.0}),
                    Catch::Contains("expected 2 buffers, got 1"));
  Var n("n");
  Buffer A = Buffer::make("A", DataType::f32(), {n});
  PrimFunc g = make_prim_func("g", {A}, evaluate(0));
  std::vector<float> a(4);
  CHECK_THROWS_WITH(interpret(g, {host_buffer(a)}, {1.5}),
                    Catch::Contains("scalar 'n' of type i32 was given a float"));
}

TEST_CASE("interpreter: math intrinsics, reinterpret, select and NaN-propagating max",
          "[ir][interpreter]") {
  Buffer X = Buffer::make("X", DataType::f32(), {32});
  Buffer Y = Buffer::make("Y", DataType::f32(), {32, 12});
  Buffer H = Buffer::make("H", DataType::f16(), {32});
  Buffer BITS = Buffer::make("BITS", DataType::u32(), {32});
  Buffer HB = Buffer::make("HB", DataType::u16(), {32});
  Var i("i");
  Expr x = X(i), ax = fabs(x);
  auto f32_call = [](Intrinsic op, std::vector<Expr> args) {
    return call(DataType::f32(), op, std::move(args));
  };
  std::vector<Expr> outs = {
      exp(x),
      log(ax),
      sqrt(ax),
      rsqrt(ax),
      tanh(x),
      ax,
      f32_call(Intrinsic::kFloor, {x * 4.0}),
      f32_call(Intrinsic::kCeil, {x * 4.0}),
      f32_call(Intrinsic::kPow, {ax, x}),
      f32_call(Intrinsic::kFma, {x, x, 1.0}),
      f32_call(Intrinsic::kErf, {x}),
      reinterpret(DataType::f32(), BITS(i) ^ make_const(DataType::u32(), int64_t{1}))};
  std::vector<Stmt> body;
  for (size_t k = 0; k < outs.size(); ++k) body.push_back(store(Y, {i, int(k)}, outs[k]));
  body.push_back(store(HB, {i}, reinterpret(DataType::u16(), H(i))));
  PrimFunc f = make_prim_func("math", {X, Y, H, BITS, HB}, for_loop(i, 0, 32, seq(body)));
  std::vector<float> xs = random_floats(32, 12), y(32 * 12);
  std::vector<uint16_t> h(32), hb(32);
  std::vector<uint32_t> bits(32);
  for (int k = 0; k < 32; ++k) h[k] = mlcc::float_to_half(xs[k]), bits[k] = mlcc::float_bits(xs[k]);
  interpret(
      f, {host_buffer(xs), host_buffer(y), host_buffer(h), host_buffer(bits), host_buffer(hb)}, {});
  for (int k = 0; k < 32; ++k) {
    double v = xs[k], a = std::fabs(v);
    double want[] = {
        std::exp(v),       std::log(a),      std::sqrt(a),   1 / std::sqrt(a),    std::tanh(v), a,
        std::floor(v * 4), std::ceil(v * 4), std::pow(a, v), std::fma(v, v, 1.0), std::erf(v)};
    for (int o = 0; o < 11; ++o) REQUIRE(y[k * 12 + o] == static_cast<float>(want[o]));
    REQUIRE(mlcc::float_bits(y[k * 12 + 11]) == (mlcc::float_bits(xs[k]) ^ 1u));
    REQUIRE(hb[k] == h[k]);
  }

  // max/min keep a NaN; select picks per lane.
  Buffer V = Buffer::make("V", DataType::f32(), {4});
  Var n("n", DataType::f32());
  Expr lanes = V(ramp(0, 1, 4));
  PrimFunc g =
      make_prim_func("nan", {V},
                     seq({store(V, {0}, max(V(0), n)), store(V, {1}, min(n, V(1))),
                          store(V, {ramp(2, 1, 2)},
                                select(V(ramp(0, 1, 2)) > broadcast(n, 2), broadcast(Expr(1.0), 2),
                                       broadcast(Expr(-1.0), 2)))}),
                     {n});
  std::vector<float> v = {NAN, 5.0f, 0.0f, 0.0f};
  interpret(g, {host_buffer(v)}, {2.0});
  CHECK(std::isnan(v[0]));
  CHECK(v[1] == 2.0f);
  CHECK(v[2] == -1.0f);  // NaN > 2 is false
  CHECK(v[3] == -1.0f);  // 2 > 2 is false
}

// ---- GPU semantics ----------------------------------------------------------------------

TEST_CASE("interpreter: shared-memory tree reduction with sync_threads", "[ir][interpreter][gpu]") {
  const int NB = 8, NT = 256;
  Buffer A = Buffer::make("A", DataType::f32(), {NB, NT});
  Buffer O = Buffer::make("O", DataType::f32(), {NB});
  Buffer S = Buffer::make("S", DataType::f32(), {Expr(NT)}, MemScope::kShared);
  Var bx("bx"), tx("tx"), k("k");
  Expr half = Expr(NT / 2) >> k;
  Stmt body = thread_loop(
      bx, NB, ThreadAxis::kBlockX,
      allocate(S,
               thread_loop(
                   tx, NT, ThreadAxis::kThreadX,
                   seq({store(S, {tx}, A(bx, tx)), sync_threads(),
                        for_loop(k, 0, 8,
                                 seq({if_then_else(tx < half, store(S, {tx}, S(tx) + S(tx + half))),
                                      sync_threads()})),
                        if_then_else(eq(tx, 0), store(O, {bx}, S(0)))}))));
  PrimFunc f = make_prim_func("tree", {A, O}, body);
  std::vector<float> a = random_floats(NB * NT, 8), o(NB, NAN);
  interpret(f, {host_buffer(a), host_buffer(o)}, {});
  for (int b = 0; b < NB; ++b) {
    // The same tree in the same order is bit-exact; the double sum bounds the error.
    std::vector<float> s(a.begin() + b * NT, a.begin() + (b + 1) * NT);
    double sum = 0;
    for (float x : s) sum += x;
    for (int h = NT / 2; h >= 1; h /= 2)
      for (int t = 0; t < h; ++t) s[t] = s[t] + s[t + h];
    CHECK(o[b] == s[0]);
    CHECK(std::fabs(o[b] - sum) < 1e-4);
  }
}

TEST_CASE("interpreter: warp shuffles", "[ir][interpreter][gpu]") {
  const int NB = 4;
  Buffer A = Buffer::make("A", DataType::f32(), {NB, 32});
  Buffer O = Buffer::make("O", DataType::f32(), {NB, 32});
  Buffer D = Buffer::make("D", DataType::f32(), {NB, 32});
  Buffer R = Buffer::make("R", DataType::f32(), {Expr(1)}, MemScope::kLocal);
  Var bx("bx"), tx("tx"), k("k");
  Expr xor_step =
      call(DataType::f32(), Intrinsic::kWarpShuffleXor, {R(0), Expr(16) >> k, Expr(32)});
  Expr down = call(DataType::f32(), Intrinsic::kWarpShuffleDown, {A(bx, tx), Expr(1), Expr(8)});
  Stmt body = thread_loop(
      bx, NB, ThreadAxis::kBlockX,
      thread_loop(tx, 32, ThreadAxis::kThreadX,
                  allocate(R, seq({store(R, {0}, A(bx, tx)),
                                   for_loop(k, 0, 5, store(R, {0}, R(0) + xor_step)),
                                   store(O, {bx, tx}, R(0)), store(D, {bx, tx}, down)}))));
  PrimFunc f = make_prim_func("butterfly", {A, O, D}, body);
  std::vector<float> a = random_floats(NB * 32, 9), o(NB * 32), d(NB * 32);
  interpret(f, {host_buffer(a), host_buffer(o), host_buffer(d)}, {});
  for (int b = 0; b < NB; ++b) {
    std::vector<float> v(a.begin() + b * 32, a.begin() + (b + 1) * 32);
    for (int m = 16; m >= 1; m /= 2) {
      std::vector<float> next(32);
      for (int l = 0; l < 32; ++l) next[l] = v[l] + v[l ^ m];
      v = next;
    }
    for (int l = 0; l < 32; ++l) {
      REQUIRE(o[b * 32 + l] == v[l]);
      // Down by one within groups of 8; the last lane of a group keeps its own value.
      REQUIRE(d[b * 32 + l] == a[b * 32 + (l % 8 == 7 ? l : l + 1)]);
    }
  }
  // Half a warp at a shuffle cannot complete it.
  Stmt partial =
      thread_loop(tx, 32, ThreadAxis::kThreadX,
                  if_then_else(tx < 16, store(D, {0, tx},
                                              call(DataType::f32(), Intrinsic::kWarpShuffleXor,
                                                   {A(0, tx), Expr(1), Expr(32)}))));
  CHECK_THROWS_WITH(
      interpret(make_prim_func("partial", {A, O, D}, partial),
                {host_buffer(a), host_buffer(o), host_buffer(d)}, {}),
      Catch::Contains("wait at different synchronisation points: 16 warp_shuffle_xor") &&
          Catch::Contains("16 finished"));
}

TEST_CASE("interpreter: thread_allreduce over threadIdx.x", "[ir][interpreter][gpu]") {
  const int NB = 3, NY = 2, NX = 64;
  Buffer A = Buffer::make("A", DataType::f32(), {NB, NY, NX});
  Buffer OS = Buffer::make("OS", DataType::f32(), {NB, NY, NX});
  Buffer OM = Buffer::make("OM", DataType::f32(), {NB, NY, NX});
  Var bx("bx"), ty("ty"), tx("tx");
  auto reduce = [&](ReduceKind kind) {
    return call(DataType::f32(), Intrinsic::kThreadAllReduce,
                {A(bx, ty, tx), Expr(static_cast<int>(kind)), tx});
  };
  Stmt body = thread_loop(
      bx, NB, ThreadAxis::kBlockX,
      thread_loop(ty, NY, ThreadAxis::kThreadY,
                  thread_loop(tx, NX, ThreadAxis::kThreadX,
                              seq({store(OS, {bx, ty, tx}, reduce(ReduceKind::kSum)),
                                   store(OM, {bx, ty, tx}, reduce(ReduceKind::kMax))}))));
  PrimFunc f = make_prim_func("allreduce", {A, OS, OM}, body);
  std::vector<float> a = random_floats(NB * NY * NX, 10), os(a.size()), om(a.size());
  interpret(f, {host_buffer(a), host_buffer(os), host_buffer(om)}, {});
  for (int row = 0; row < NB * NY; ++row) {
    double sum = 0;
    float mx = -INFINITY;
    for (int l = 0; l < NX; ++l) sum += a[row * NX + l], mx = std::max(mx, a[row * NX + l]);
    for (int l = 0; l < NX; ++l) {  // every thread of the row receives the result
      REQUIRE(std::fabs(os[row * NX + l] - sum) < 1e-5);
      REQUIRE(om[row * NX + l] == mx);
    }
  }
}

TEST_CASE("interpreter: sibling thread loops inside a block", "[ir][interpreter][gpu]") {
  // Two threadIdx.x loops one after another (one var, as lowering leaves them), the second
  // narrower: threads with tx >= 16 skip it.
  const int NB = 2;
  Buffer A = Buffer::make("A", DataType::f32(), {NB, 64});
  Buffer O = Buffer::make("O", DataType::f32(), {NB, 32});
  Buffer S = Buffer::make("S", DataType::f32(), {Expr(64)}, MemScope::kShared);
  Var bx("bx"), ty("ty"), tx("tx");
  Stmt body = thread_loop(
      bx, NB, ThreadAxis::kBlockX,
      allocate(S,
               thread_loop(
                   ty, 2, ThreadAxis::kThreadY,
                   seq({thread_loop(tx, 32, ThreadAxis::kThreadX,
                                    store(S, {ty * 32 + tx}, A(bx, 63 - (ty * 32 + tx)))),
                        sync_threads(),
                        thread_loop(tx, 16, ThreadAxis::kThreadX,
                                    store(O, {bx, ty * 16 + tx},
                                          S((ty * 16 + tx) * 2) + S((ty * 16 + tx) * 2 + 1)))}))));
  PrimFunc f = make_prim_func("siblings", {A, O}, body);
  std::vector<float> a = random_floats(NB * 64, 11), o(NB * 32, NAN);
  interpret(f, {host_buffer(a), host_buffer(o)}, {});
  for (int b = 0; b < NB; ++b)
    for (int j = 0; j < 32; ++j)
      REQUIRE(o[b * 32 + j] == a[b * 64 + 63 - 2 * j] + a[b * 64 + 62 - 2 * j]);
}

TEST_CASE("interpreter: divergent barriers and errors inside threads", "[ir][interpreter][gpu]") {
  Buffer A = Buffer::make("A", DataType::f32(), {64});
  Var tx("tx");
  PrimFunc divergent = make_prim_func(
      "divergent", {A},
      thread_loop(tx, 64, ThreadAxis::kThreadX,
                  seq({store(A, {tx}, 1.0), if_then_else(tx < 32, sync_threads())})));
  std::vector<float> a(64);
  CHECK_THROWS_WITH(
      interpret(divergent, {host_buffer(a)}, {}),
      Catch::Contains("interpret divergent: divergent barrier: 32 of 64 threads "
                      "finished without reaching sync_threads() while 32 wait at it"));
  // One thread fails while the others wait at a barrier: the error names the thread, and
  // the waiting fibers are unwound.
  Buffer B = Buffer::make("B", DataType::f32(), {64});
  Var bx("bx");
  PrimFunc oob = make_prim_func(
      "oob", {A, B},
      thread_loop(
          bx, 2, ThreadAxis::kBlockX,
          thread_loop(tx, 64, ThreadAxis::kThreadX,
                      seq({store(B, {tx}, A(tx + bx)), sync_threads(), store(B, {tx}, 0.0)}))));
  std::vector<float> b(64);
  CHECK_THROWS_WITH(interpret(oob, {host_buffer(a), host_buffer(b)}, {}),
                    Catch::Contains("out-of-bounds load of buffer 'A': index [64] is outside its "
                                    "shape [64] in `A[(tx + bx)]` (blockIdx (1, 0, 0), "
                                    "threadIdx (63, 0, 0))"));
  // sync_threads outside a thread loop.
  PrimFunc outside = make_prim_func("outside", {A}, sync_threads());
  CHECK_THROWS_WITH(interpret(outside, {host_buffer(a)}, {}),
                    Catch::Contains("sync_threads() outside any threadIdx loop"));
}
