// `mlcc compile` for ROCm on the whole Llama-2-7B config (examples/llama2.json, q4f16_1)
// for gfx1100 (RDNA 3, wave32) and gfx942 (CDNA 3, wave64): the library carries one code
// object whose every manifest kernel llvm-readelf finds with the launch metadata the HIP
// device relies on, no kernel spills to scratch, and the decode GEMVs stream weights with
// 128-bit loads into packed f16 math. No AMD GPU runs it here (docs/ARCHITECTURE.md).
#include <dlfcn.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "models/llama_config.h"
#include "runtime/library.h"
#include "tests/amdgpu_inspect.h"
#include "tests/temp_dir.h"
#include "tools/compile_model.h"

using namespace mlcc;
using nlohmann::json;

namespace {

struct RocmLibrary {
  json manifest;
  std::vector<uint8_t> hsaco;
};

// The manifest and code object of a compiled library, read straight from its symbols.
RocmLibrary read_library(const std::string& path) {
  void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  REQUIRE(h != nullptr);
  RocmLibrary out;
  const auto* manifest = static_cast<const char*>(dlsym(h, "mlcc_library_manifest"));
  const auto* code = static_cast<const uint8_t*>(dlsym(h, "mlcc_library_hsaco"));
  const auto* size = static_cast<const uint64_t*>(dlsym(h, "mlcc_library_hsaco_size"));
  REQUIRE(manifest != nullptr);
  REQUIRE(code != nullptr);
  REQUIRE(size != nullptr);
  out.manifest = json::parse(manifest);
  out.hsaco.assign(code, code + *size);
  dlclose(h);
  return out;
}

}  // namespace

TEST_CASE("Llama-2-7B compiled for rocm gfx1100 and gfx942: code objects checked with LLVM's tools",
          "[compile][rocm]") {
  models::LlamaConfig config =
      models::read_hf_config(std::string(MLCC_SOURCE_DIR) + "/examples/llama2.json");
  for (const char* gfx : {"gfx1100", "gfx942"}) {
    INFO(gfx);
    testing::TempDir dir;
    CompileOptions o;
    o.target = std::string("rocm -mcpu=") + gfx;
    o.quantization = "q4f16_1";
    std::string lib = dir.path + "/llama2-rocm.so";
    compile_model(config, o, lib);
    RocmLibrary l = read_library(lib);
    // The runtime's loader accepts what the compiler wrote (the device itself needs a GPU).
    std::unique_ptr<Library> loaded = Library::load(lib);
    CHECK(loaded->manifest().target_kind == "rocm");
    CHECK(loaded->manifest().rocm.gfx == gfx);
    CHECK(loaded->hsaco().size() == l.hsaco.size());
    const json& m = l.manifest;
    int wave = std::string(gfx) == "gfx1100" ? 32 : 64;
    CHECK(m["target_kind"] == "rocm");
    CHECK(m["target"] == o.target);
    CHECK(m["rocm"]["gfx"] == gfx);
    CHECK(m["rocm"]["wavefront_size"] == wave);
    test::AmdCodeObject co = test::inspect_code_object(l.hsaco, gfx);
    CHECK(co.target == std::string("amdgcn-amd-amdhsa--") + gfx);
    REQUIRE(m["kernels"].size() > 20);
    CHECK(co.kernels.size() == m["kernels"].size());
    std::string gemv_code;
    int gemvs = 0;
    for (const json& k : m["kernels"]) {
      std::string name = k["name"];
      INFO(name);
      REQUIRE(co.kernels.count(name) == 1);
      const test::AmdKernelNote& note = co.kernels.at(name);
      CHECK(note.num(".wavefront_size") == wave);
      CHECK(note.num(".group_segment_fixed_size") <= 64 * 1024);
      CHECK(note.num(".group_segment_fixed_size") <= k["shared_bytes"].get<int64_t>());
      CHECK(note.num(".vgpr_spill_count") == 0);
      CHECK(note.num(".sgpr_spill_count") == 0);
      CHECK(note.num(".private_segment_fixed_size") == 0);
      // The explicit kernel arguments: buffers as 8-byte global pointers, then the scalars
      // at the widths the manifest gives the runtime.
      size_t nb = k["num_buffers"], ns = k["num_scalars"];
      REQUIRE(note.args.size() >= nb + ns);
      int64_t at = 0;
      for (size_t a = 0; a < nb + ns; ++a) {
        INFO("argument " << a);
        int64_t size = a < nb ? 8 : k["scalar_bits"][a - nb].get<int>() / 8;
        at = (at + size - 1) / size * size;
        CHECK(std::stoll(note.args[a].at(".offset")) == at);
        CHECK(std::stoll(note.args[a].at(".size")) == size);
        CHECK(note.args[a].at(".value_kind") == (a < nb ? "global_buffer" : "by_value"));
        at += size;
      }
      // Decode's q4 GEMVs: one row of tokens ("_1_" in the name), weights and scales in.
      if (name.rfind("k_linear_q4f16_1_1_", 0) == 0) {
        ++gemvs;
        REQUIRE(co.disassembly.count(name) == 1);
        gemv_code += co.disassembly.at(name);
      }
    }
    CHECK(gemvs >= 4);
    CHECK((gemv_code.find("global_load_b128") != std::string::npos ||
           gemv_code.find("global_load_dwordx4") != std::string::npos));
    CHECK((gemv_code.find("v_pk_mul_f16") != std::string::npos ||
           gemv_code.find("v_pk_fma_f16") != std::string::npos ||
           gemv_code.find("v_dot2") != std::string::npos));
  }
}
