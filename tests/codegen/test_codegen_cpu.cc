// CPU code generation: kernels built into shared libraries, loaded and run against C++.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>

#include "codegen/linker.h"
#include "ir/half.h"
#include "runtime/error.h"
#include "runtime/thread_pool.h"
#include "tests/codegen/test_helpers.h"

using namespace mlcc;
using namespace mlcc::ir;
using mlcc::test::AlignedBuf;
using mlcc::test::TempDir;

namespace {

int64_t floordiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a % b < 0) != (b < 0))) ? q - 1 : q;
}
int64_t floormod(int64_t a, int64_t b) { return a - floordiv(a, b) * b; }

PrimFunc elementwise_add() {
  Var n("n"), i("i");
  Buffer A = Buffer::make("A", DataType::f32(), {n});
  Buffer B = Buffer::make("B", DataType::f32(), {n});
  Buffer C = Buffer::make("C", DataType::f32(), {n});
  return make_prim_func("add", {A, B, C}, for_loop(i, 0, n, store(C, {i}, A(i) + B(i))));
}

}  // namespace

TEST_CASE("cpu codegen: elementwise add over a symbolic n", "[codegen][cpu]") {
  TempDir dir;
  auto mod = test::build_and_load({elementwise_add()}, dir, "add");
  for (int64_t n : {1, 37, 1000}) {
    AlignedBuf<float> a(n), b(n), c(n);
    for (int64_t i = 0; i < n; ++i) a[i] = 0.5f * i, b[i] = 3.0f - i;
    REQUIRE(test::run(mod->function("add"), {a.data(), b.data(), c.data()}, {n}) == 0);
    for (int64_t i = 0; i < n; ++i) REQUIRE(c[i] == a[i] + b[i]);
  }
  CHECK_THROWS_WITH(mod->function("nope"), Catch::Contains("nope"));
}

TEST_CASE("cpu codegen: floor division and modulo of negative numbers", "[codegen][cpu]") {
  Var n("n"), i("i");
  Buffer A = Buffer::make("A", DataType::i32(), {n});
  Buffer B = Buffer::make("B", DataType::i32(), {n});
  Buffer O = Buffer::make("O", DataType::i32(), {n, 6});
  Expr a = A(i), b = B(i);
  Stmt body =
      for_loop(i, 0, n,
               seq({store(O, {i, 0}, a / b), store(O, {i, 1}, a % b), store(O, {i, 2}, a / 4),
                    store(O, {i, 3}, a % 4), store(O, {i, 4}, a / 3), store(O, {i, 5}, a % -3)}));
  TempDir dir;
  auto mod = test::build_and_load({make_prim_func("divmod", {A, B, O}, body)}, dir, "divmod");
  std::vector<std::pair<int, int>> cases;
  for (int x : {-9, -8, -7, -5, -4, -1, 0, 1, 3, 4, 7, 8, 9})
    for (int y : {-4, -3, -1, 1, 2, 3, 4}) cases.emplace_back(x, y);
  int64_t len = static_cast<int64_t>(cases.size());
  AlignedBuf<int32_t> av(len), bv(len), out(len * 6);
  for (int64_t k = 0; k < len; ++k) av[k] = cases[k].first, bv[k] = cases[k].second;
  REQUIRE(test::run(mod->function("divmod"), {av.data(), bv.data(), out.data()}, {len}) == 0);
  for (int64_t k = 0; k < len; ++k) {
    int64_t x = av[k], y = bv[k];
    INFO(x << " and " << y);
    CHECK(out[k * 6 + 0] == floordiv(x, y));
    CHECK(out[k * 6 + 1] == floormod(x, y));
    CHECK(out[k * 6 + 2] == floordiv(x, 4));
    CHECK(out[k * 6 + 3] == floormod(x, 4));
    CHECK(out[k * 6 + 4] == floordiv(x, 3));
    CHECK(out[k * 6 + 5] == floormod(x, -3));
  }
}

TEST_CASE("cpu codegen: f16 and bf16 storage with f32 math", "[codegen][cpu]") {
  Var n("n"), i("i");
  Buffer X = Buffer::make("X", DataType::f16(), {n});
  Buffer Y = Buffer::make("Y", DataType::f16(), {n});
  Buffer Z = Buffer::make("Z", DataType::bf16(), {n});
  Expr x = cast(DataType::f32(), X(i));
  Stmt body = for_loop(
      i, 0, n,
      seq({store(Y, {i}, cast(DataType::f16(), x * Expr(2.5) + Expr(1.0))),
           store(Z, {i},
                 cast(DataType::bf16(), x * Expr(-3.0)) + cast(DataType::bf16(), Expr(0.25)))}));
  TempDir dir;
  auto mod = test::build_and_load({make_prim_func("half", {X, Y, Z}, body)}, dir, "half");
  int64_t len = 300;
  AlignedBuf<uint16_t> xv(len), yv(len), zv(len);
  for (int64_t k = 0; k < len; ++k) xv[k] = float_to_half(std::sin(0.37f * k) * 40.0f);
  REQUIRE(test::run(mod->function("half"), {xv.data(), yv.data(), zv.data()}, {len}) == 0);
  for (int64_t k = 0; k < len; ++k) {
    float x = half_to_float(xv[k]);
    CHECK(yv[k] == float_to_half(x * 2.5f + 1.0f));
    // bf16 + bf16 is computed in f32 and rounded once.
    float prod = round_to_bf16(x * -3.0f);
    CHECK(zv[k] == float_to_bf16(prod + 0.25f));
  }
}

TEST_CASE("cpu codegen: parallel loops, serial and on the runtime's pool", "[codegen][cpu]") {
  Var n("n"), i("i"), j("j");
  Buffer A = Buffer::make("A", DataType::f32(), {n, 64});
  Buffer B = Buffer::make("B", DataType::f32(), {n, 64});
  Var scale("scale", DataType::f32());
  Stmt body = for_loop(
      i, 0, n, for_loop(j, 0, 64, store(B, {i, j}, A(i, j) * scale + cast(DataType::f32(), i))),
      ForKind::kParallel);
  PrimFunc f = make_prim_func("par", {A, B}, body, {scale});
  Target target = Target::host_cpu();
  target.num_cores = 4;
  TempDir dir;
  std::string so = dir.path + "/par.so";
  codegen::build_cpu_shared_library({f}, target, so);
  float s = 1.5f;
  int32_t sbits;
  std::memcpy(&sbits, &s, 4);
  auto check = [&](MlccKernelFn fn, int64_t n) {
    AlignedBuf<float> a(n * 64), b(n * 64);
    for (int64_t k = 0; k < n * 64; ++k) a[k] = 0.25f * k;
    REQUIRE(test::run(fn, {a.data(), b.data()}, {n, sbits}) == 0);
    for (int64_t k = 0; k < n * 64; ++k) REQUIRE(b[k] == a[k] * 1.5f + static_cast<float>(k / 64));
  };
  SECTION("no launcher installed: the whole range runs on the caller") {
    void* h = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
    REQUIRE(h != nullptr);
    CHECK(*static_cast<void**>(dlsym(h, MLCC_PARALLEL_LAUNCH_SYMBOL)) == nullptr);
    for (int64_t n : {0, 1, 3, 17}) check(reinterpret_cast<MlccKernelFn>(dlsym(h, "par")), n);
    dlclose(h);
  }
  SECTION("through CpuModule and the thread pool") {
    auto mod = CpuModule::load(so);
    CHECK(*static_cast<void**>(mod->find_symbol(MLCC_PARALLEL_LAUNCH_SYMBOL)) != nullptr);
    for (int64_t n : {0, 1, 3, 17, 100}) check(mod->function("par"), n);
  }
}

TEST_CASE("cpu codegen: local and scratch allocations", "[codegen][cpu]") {
  Var n("n"), i("i"), k("k");
  Buffer A = Buffer::make("A", DataType::f32(), {n});
  Buffer B = Buffer::make("B", DataType::f32(), {n});
  Buffer T = Buffer::make("T", DataType::f32(), {4}, MemScope::kLocal);
  Buffer S = Buffer::make("S", DataType::f32(), {n});  // global scratch of symbolic size
  Stmt body = allocate(
      S,
      seq({for_loop(i, 0, n, store(S, {i}, A(i) + Expr(1.0))),
           for_loop(
               i, 0, n,
               allocate(T, seq({for_loop(k, 0, 4, store(T, {k}, S(i) * cast(DataType::f32(), k))),
                                store(B, {i}, T(0) + T(1) + T(2) + T(3))})))}));
  TempDir dir;
  auto mod = test::build_and_load({make_prim_func("alloc", {A, B}, body)}, dir, "alloc");
  int64_t len = 50;
  AlignedBuf<float> a(len), b(len);
  for (int64_t q = 0; q < len; ++q) a[q] = 0.5f * q - 3.0f;
  REQUIRE(test::run(mod->function("alloc"), {a.data(), b.data()}, {len}) == 0);
  for (int64_t q = 0; q < len; ++q) CHECK(b[q] == (a[q] + 1.0f) * 6.0f);
}

TEST_CASE("cpu codegen: unpacking 4-bit values from u32 words", "[codegen][cpu]") {
  Var n("n"), i("i"), j("j");
  Buffer W = Buffer::make("W", DataType::u32(), {n});
  Buffer O = Buffer::make("O", DataType::f32(), {n, 8});
  Expr shift = cast(DataType::u32(), j) * 4;
  Expr q = (W(i) >> shift) & 15;
  Stmt body = for_loop(
      i, 0, n,
      for_loop(j, 0, 8, store(O, {i, j}, cast(DataType::f32(), cast(DataType::i32(), q) - 7)),
               ForKind::kVectorized));
  TempDir dir;
  auto mod = test::build_and_load({make_prim_func("unpack", {W, O}, body)}, dir, "unpack");
  int64_t len = 9;
  AlignedBuf<uint32_t> w(len);
  AlignedBuf<float> o(len * 8);
  for (int64_t k = 0; k < len; ++k) w[k] = 0x89abcdefu * static_cast<uint32_t>(k + 1) + 0x01234567u;
  REQUIRE(test::run(mod->function("unpack"), {w.data(), o.data()}, {len}) == 0);
  for (int64_t k = 0; k < len; ++k)
    for (int e = 0; e < 8; ++e)
      CHECK(o[k * 8 + e] == static_cast<float>(static_cast<int>((w[k] >> (4 * e)) & 15u) - 7));
}

TEST_CASE("cpu codegen: aarch64 objects", "[codegen][cpu]") {
  Target t = Target::parse("cpu -mtriple=aarch64-linux-gnu");
  std::vector<uint8_t> obj = codegen::compile_cpu_object({elementwise_add()}, t);
  REQUIRE(obj.size() > 64);
  CHECK(std::memcmp(obj.data(),
                    "\x7f"
                    "ELF",
                    4) == 0);
  CHECK(obj[4] == 2);  // ELFCLASS64
  uint16_t machine = static_cast<uint16_t>(obj[18] | (obj[19] << 8));
  CHECK(machine == 183);  // EM_AARCH64
  // And the linker takes it (lld is a cross linker).
  TempDir dir;
  codegen::link_shared_library(obj, t, dir.path + "/a64.so");
  CHECK(std::filesystem::file_size(dir.path + "/a64.so") > 0);
}

TEST_CASE("cpu codegen: failures leave no half-written library", "[codegen][cpu]") {
  TempDir dir;
  std::string so = dir.path + "/bad.so";
  std::vector<uint8_t> garbage{'n', 'o', 't', ' ', 'a', 'n', ' ', 'o', 'b', 'j'};
  CHECK_THROWS_AS(codegen::link_shared_library(garbage, Target::host_cpu(), so), Error);
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path),
                      std::filesystem::directory_iterator()) == 0);
  Target gpu = Target::parse("cuda -arch=sm_80");
  CHECK_THROWS_WITH(codegen::compile_cpu_object({elementwise_add()}, gpu),
                    Catch::Contains("not a cpu target"));
}
