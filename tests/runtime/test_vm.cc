// Tests of the register VM: bytecode that would read outside the manifest or the register
// file is refused when the VM is made, with the function, code position and operand
// named; valid bytecode runs kernels with the registers' values on a recording device.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "runtime/device.h"
#include "runtime/error.h"
#include "runtime/library.h"
#include "runtime/library_format.h"
#include "runtime/vm.h"
#include "tests/runtime/runtime_test_util.h"

using nlohmann::json;

namespace {

// The toy manifest with function "f" of the given code and register count added.
mlcc::Manifest with_function(const std::vector<int64_t>& code, int64_t registers = 4,
                             json outputs = json::array()) {
  json j = mlcc::test::toy_manifest();
  j["functions"]["f"] = {{"inputs", {{{"name", "tokens"}, {"dtype", "i32"}, {"shape", {2}}}}},
                         {"scalars", {"n"}},
                         {"outputs", outputs},
                         {"num_registers", registers},
                         {"code", code}};
  return mlcc::parse_manifest(j.dump(), "toy.so");
}

void check_refused(const std::vector<int64_t>& code, const std::string& expected,
                   int64_t registers = 4) {
  mlcc::Manifest m = with_function(code, registers);
  INFO("expected: " << expected);
  CHECK_THROWS_WITH(
      mlcc::VirtualMachine(m, "toy.so"),
      Catch::Contains("library 'toy.so': function 'f': ") && Catch::Contains(expected));
}

// A device that records launches instead of running them.
class RecordingDevice final : public mlcc::Device {
 public:
  struct Launch {
    size_t kernel;
    std::vector<void*> buffers;
    std::vector<int64_t> scalars;
  };
  std::vector<Launch> launches;

  std::string name() const override { return "recording"; }
  std::string kind() const override { return "cpu"; }
  void* alloc(size_t) override { return nullptr; }
  void free(void*) override {}
  void copy_to_device(void*, const void*, size_t) override {}
  void copy_to_host(void*, const void*, size_t) override {}
  void copy_device_to_device(void*, const void*, size_t) override {}
  void memset(void*, uint8_t, size_t) override {}
  void synchronize() override {}
  void load_kernels(const mlcc::Library&) override {}
  void launch(size_t kernel, std::span<void* const> buffers,
              std::span<const int64_t> scalars) override {
    launches.push_back(
        {kernel, {buffers.begin(), buffers.end()}, {scalars.begin(), scalars.end()}});
  }
};

}  // namespace

TEST_CASE("vm: bad bytecode operands are refused at load with the operand named", "[runtime][vm]") {
  using namespace mlcc::vm;
  check_refused({kArg, 7, 0}, "code[0] (kArg): register 7 is out of range; the function has 4");
  check_refused({kArg, 0, 1}, "input index 1 is out of range; there are 1 inputs");
  check_refused({kScalar, 0, -1}, "scalar index -1 is out of range");
  check_refused({kParam, 0, 2},
                "code[0] (kParam): parameter index 2 is out of range; there "
                "are 2 params");
  check_refused({kKVCache, 0, 2}, "layer index 2 is out of range");
  check_refused({kView, 0, 2, 0}, "storage index 2 is out of range");
  check_refused({kView, 0, 1, 4096}, "view offset 4096 lies outside storage 1 of 192 bytes");
  check_refused({kConst, 0, 5, kBinary, 1, 9, 0, 0}, "code[3] (kBinary): binary operator 9");
  check_refused({kConst, 0, 5, kBinary, 1, kAdd, 0, 2},
                "reads register 2 before anything is written to it");
  check_refused({kArg, 0, 0, kBinary, 1, kAdd, 0, 0},
                "uses register 0 as a scalar, but it holds a tensor");
  check_refused({kConst, 0, 1, kCall, 7, 0, 0},
                "code[3] (kCall): kernel index 7 is out of range; "
                "there are 7 kernels");
  check_refused({kArg, 0, 0, kCall, 4, 1, 0, 0},
                "passes 1 buffers to kernel 'toy_add_vec', which takes 3");
  check_refused({kArg, 0, 0, kConst, 1, 3, kCall, 4, 3, 0, 0, 0, 2, 1, 1},
                "passes 2 scalars to kernel 'toy_add_vec', which takes 1");
  check_refused({kArg, 0, 0, kConst, 1, 3, kCall, 4, 3, 0, 0, 1, 1, 1},
                "uses register 1 as a tensor, but it holds a scalar");
  check_refused({kArg, 0, 0, kCall, 4, 3, 0, 0},
                "needs 6 operand words, but the code ends after 4");
  check_refused({kArg, 0}, "code[0] (kArg): needs 2 operand words");
  check_refused({42}, "code[0] (unknown opcode): unknown opcode 42");
  check_refused({kResult, 1, 0}, "returns 1 tensors, but the function has 0 outputs");
  check_refused({kResult, 0, kConst, 0, 1}, "an instruction after kResult");
  mlcc::Manifest m =
      with_function({kArg, 0, 0}, 4, {{{"name", "y"}, {"dtype", "f32"}, {"shape", {2}}}});
  CHECK_THROWS_WITH(mlcc::VirtualMachine(m, "toy.so"), Catch::Contains("ends without kResult"));
}

TEST_CASE("vm: the bad-bytecode toy library is refused when a model loads it", "[runtime][vm]") {
  auto lib = mlcc::Library::load(mlcc::test::toy_library("mlcc_toy_bad_bytecode"));
  CHECK_THROWS_WITH(mlcc::VirtualMachine(lib->manifest(), lib->path()),
                    Catch::Contains("function 'decode'") &&
                        Catch::Contains("kernel index 9 is out of range; there are 7 kernels"));
}

TEST_CASE("vm: runs straight-line code with registers, views and scalar arithmetic",
          "[runtime][vm]") {
  using namespace mlcc::vm;
  // f(tokens; n): a = n * 3; b = a floordiv -2; c = max(b, 1)... then call toy_add_vec
  // (kernel 4) on the param, the KV cache pool and a view, and return the view.
  // clang-format off
  std::vector<int64_t> code = {
      kScalar, 0, 0,
      kConst, 1, 3,
      kBinary, 2, kMul, 0, 1,
      kConst, 3, -2,
      kBinary, 2, kFloorDiv, 2, 3,
      kBinary, 4, kFloorMod, 0, 3,
      kParam, 5, 1,
      kKVCache, 6, 1,
      kView, 7, 1, 64,
      kCall, 4, 3, 5, 6, 7, 1, 2,
      kCall, 4, 3, 7, 7, 5, 1, 4,
      kResult, 1, 7};
  // clang-format on
  mlcc::Manifest m = with_function(code, 8, {{{"name", "y"}, {"dtype", "f32"}, {"shape", {2}}}});
  mlcc::VirtualMachine vm(m, "toy.so");
  RecordingDevice dev;
  char params[2][8], kv[2][8], storages[2][256];
  void* param_ptrs[] = {params[0], params[1]};
  void* kv_ptrs[] = {kv[0], kv[1]};
  void* storage_ptrs[] = {storages[0], storages[1]};
  mlcc::VMEnv env{&dev, param_ptrs, kv_ptrs, storage_ptrs};
  int32_t tokens[2] = {1, 2};
  void* inputs[] = {tokens};
  int64_t scalars[] = {5};
  std::vector<void*> out = vm.run(*m.find_function("f"), env, inputs, scalars);
  REQUIRE(out.size() == 1);
  CHECK(out[0] == storages[1] + 64);
  REQUIRE(dev.launches.size() == 2);
  CHECK(dev.launches[0].kernel == 4);
  CHECK(dev.launches[0].buffers == std::vector<void*>{params[1], kv[1], storages[1] + 64});
  CHECK(dev.launches[0].scalars == std::vector<int64_t>{-8});  // floor(15 / -2)
  CHECK(dev.launches[1].buffers ==
        std::vector<void*>{storages[1] + 64, storages[1] + 64, params[1]});
  CHECK(dev.launches[1].scalars == std::vector<int64_t>{-1});  // 5 floormod -2
  CHECK_THROWS_WITH(vm.run(*m.find_function("f"), env, {}, scalars),
                    Catch::Contains("called with 0 inputs and 1 scalars; it takes 1 and 1"));
}
