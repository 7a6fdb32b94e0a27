// Tests of CPU kernel module loading: tiny kernel modules are written as C, compiled into
// shared objects in a temporary folder, loaded and run; bad modules give clear errors.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "runtime/cpu_module.h"
#include "runtime/error.h"
#include "runtime/kernel_abi.h"
#include "tests/temp_dir.h"

#ifndef MLCC_TEST_C_COMPILER
#define MLCC_TEST_C_COMPILER "cc"
#endif

namespace fs = std::filesystem;

namespace {

using mlcc::testing::TempDir;

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream out(p);
  out << text;
  REQUIRE(out.good());
}

// Compiles C source into dir/name.so and returns its path.
std::string build_module(const TempDir& dir, const std::string& name, const std::string& src) {
  fs::path c_file = dir / (name + ".c");
  fs::path so_file = dir / (name + ".so");
  write_file(c_file, src);
  std::string cmd = std::string(MLCC_TEST_C_COMPILER) + " -shared -fPIC -O2 -o '" +
                    so_file.string() + "' '" + c_file.string() + "'";
  INFO("compiling with: " << cmd);
  REQUIRE(std::system(cmd.c_str()) == 0);
  return so_file.string();
}

// A module in the shape codegen emits: an ABI version, a launcher slot, and kernels whose
// parallel loops are outlined into bodies that take a closure.
std::string kernel_source(int abi_version) {
  return R"(
#include <stdint.h>
typedef int32_t (*Body)(int64_t, int64_t, void*);
typedef int32_t (*Launch)(Body, void*, int64_t);

int32_t mlcc_module_abi_version = )" +
         std::to_string(abi_version) + R"(;
Launch mlcc_parallel_launch = 0;

struct AddClosure { const float* a; const float* b; float* c; int64_t n; };

static int32_t add_body(int64_t task, int64_t num_tasks, void* p) {
  struct AddClosure* cl = (struct AddClosure*)p;
  int64_t chunk = (cl->n + num_tasks - 1) / num_tasks;
  int64_t begin = task * chunk, end = begin + chunk < cl->n ? begin + chunk : cl->n;
  for (int64_t i = begin; i < end; ++i) cl->c[i] = cl->a[i] + cl->b[i];
  return 0;
}

/* add_f32(a, b, c; n): c = a + b over n floats, in 8 parallel tasks. */
int32_t add_f32(void* const* buffers, const int64_t* scalars) {
  if (mlcc_parallel_launch == 0) return 99;
  struct AddClosure cl = {(const float*)buffers[0], (const float*)buffers[1],
                          (float*)buffers[2], scalars[0]};
  return mlcc_parallel_launch(add_body, &cl, 8);
}

static int32_t fail_body(int64_t task, int64_t num_tasks, void* p) {
  return task == 3 ? 5 : 0;
}

int32_t failing_kernel(void* const* buffers, const int64_t* scalars) {
  return mlcc_parallel_launch(fail_body, 0, 6);
}
)";
}

}  // namespace

TEST_CASE("runtime cpu module: loads a kernel module and runs a parallel kernel",
          "[runtime][cpu_module]") {
  fs::path dir_path;
  {
    TempDir dir;
    dir_path = dir.path;
    std::string so = build_module(dir, "add", kernel_source(MLCC_KERNEL_ABI_VERSION));
    auto module = mlcc::CpuModule::load(so);
    REQUIRE(module->path() == so);
    MlccKernelFn add = module->function("add_f32");

    const int64_t n = 1003;
    std::vector<float> a(n), b(n), c(n, -1.0f);
    for (int64_t i = 0; i < n; ++i) {
      a[i] = static_cast<float>(i);
      b[i] = 0.5f * static_cast<float>(i);
    }
    void* buffers[] = {a.data(), b.data(), c.data()};
    int64_t scalars[] = {n};
    for (int rep = 0; rep < 20; ++rep) REQUIRE(add(buffers, scalars) == 0);
    for (int64_t i = 0; i < n; ++i) REQUIRE(c[i] == 1.5f * static_cast<float>(i));

    CHECK(module->function("failing_kernel")(buffers, scalars) == 5);
    CHECK(module->find_symbol("no_such_symbol") == nullptr);
    REQUIRE_THROWS_WITH(module->function("mul_f32"),
                        Catch::Contains("mul_f32") && Catch::Contains(so));
  }
  CHECK_FALSE(fs::exists(dir_path));
}

TEST_CASE("runtime cpu module: a module built for another ABI version is refused",
          "[runtime][cpu_module]") {
  TempDir dir;
  std::string so = build_module(dir, "old_abi", kernel_source(MLCC_KERNEL_ABI_VERSION + 41));
  REQUIRE_THROWS_AS(mlcc::CpuModule::load(so), mlcc::Error);
  REQUIRE_THROWS_WITH(
      mlcc::CpuModule::load(so),
      Catch::Contains(so) &&
          Catch::Contains("version " + std::to_string(MLCC_KERNEL_ABI_VERSION + 41)) &&
          Catch::Contains("needs version " + std::to_string(MLCC_KERNEL_ABI_VERSION)));
}

TEST_CASE("runtime cpu module: a shared object without the ABI symbol is refused",
          "[runtime][cpu_module]") {
  TempDir dir;
  std::string so = build_module(dir, "plain", "int plain_function(void) { return 1; }\n");
  REQUIRE_THROWS_WITH(mlcc::CpuModule::load(so),
                      Catch::Contains(so) && Catch::Contains("not an mlcc kernel module"));
}

TEST_CASE("runtime cpu module: files that are not shared objects give clear errors",
          "[runtime][cpu_module]") {
  TempDir dir;
  fs::path text = dir / "not_a_library.so";
  write_file(text, "this is plain text, not ELF\n");
  REQUIRE_THROWS_WITH(
      mlcc::CpuModule::load(text.string()),
      Catch::Contains("cannot load CPU kernel module") && Catch::Contains(text.string()));

  std::string missing = dir / "missing.so";
  REQUIRE_THROWS_WITH(mlcc::CpuModule::load(missing),
                      Catch::Contains(missing) && Catch::Contains("No such file"));
}
