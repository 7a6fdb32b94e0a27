// The library writer: kernels through the tensor-IR pipeline and the target's
// code generator, the manifest and device blobs (PTX, SPIR-V, HSA code object) as
// constant data in a small host object, and lld linking both into the library.
#include "codegen/library_writer.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/GlobalVariable.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/Target/TargetMachine.h>

#include "codegen/linker.h"
#include "codegen/llvm/codegen.h"
#include "codegen/llvm/llvm_backend.h"
#include "codegen/spirv/codegen_spirv.h"
#include "passes/pipeline.h"
#include "runtime/error.h"
#include "runtime/kernel_abi.h"

namespace mlcc::codegen {

namespace {

void postfix(const ir::Expr& e, const ir::PrimFunc& f, nlohmann::json& out) {
  if (int64_t v; ir::is_const_int(e, &v)) {
    out.push_back(v);
    return;
  }
  if (const auto* var = e.as<ir::VarNode>()) {
    for (size_t i = 0; i < f.scalars.size(); ++i)
      if (f.scalars[i].get() == var) {
        out.push_back("$" + std::to_string(i));
        return;
      }
    throw Error("library: launch extent of " + f.name + " uses '" + var->name +
                "', which is not a scalar parameter");
  }
  if (const auto* c = e.as<ir::CastNode>()) return postfix(c->value, f, out);
  if (const auto* b = e.as<ir::BinaryNode>()) {
    const char* op = nullptr;
    switch (b->kind) {
      case ir::NodeKind::kAdd:
        op = "+";
        break;
      case ir::NodeKind::kSub:
        op = "-";
        break;
      case ir::NodeKind::kMul:
        op = "*";
        break;
      case ir::NodeKind::kDiv:
        op = "/";
        break;
      case ir::NodeKind::kMod:
        op = "%";
        break;
      case ir::NodeKind::kMin:
        op = "min";
        break;
      case ir::NodeKind::kMax:
        op = "max";
        break;
      default:
        break;
    }
    if (op) {
      postfix(b->a, f, out);
      postfix(b->b, f, out);
      out.push_back(op);
      return;
    }
  }
  throw Error("library: launch extent of " + f.name +
              " is not integer arithmetic over its "
              "scalar parameters");
}

// The device code a GPU library carries (one of them; none for the CPU).
struct DeviceBlobs {
  const std::string* ptx = nullptr;
  const std::vector<uint32_t>* spirv = nullptr;
  const std::vector<uint8_t>* hsaco = nullptr;
};

// A host object holding the manifest (and PTX) as NUL-terminated constant data, the
// SPIR-V blob as u32 words, the code object as bytes with its size, plus the kernel-module
// globals when no CPU kernel object provides them.
std::vector<uint8_t> data_object(const Target& host, const std::string& manifest,
                                 const DeviceBlobs& blobs, bool module_globals) {
  auto tm = make_target_machine(host);
  llvm::LLVMContext ctx;
  llvm::Module m("mlcc_library_data", ctx);
  configure_module(m, *tm);
  auto bytes = [&](const char* name, const std::string& text) {
    llvm::Constant* init = llvm::ConstantDataArray::getString(ctx, text, /*AddNull=*/true);
    new llvm::GlobalVariable(m, init->getType(), true, llvm::GlobalValue::ExternalLinkage, init,
                             name);
  };
  bytes("mlcc_library_manifest", manifest);
  if (blobs.ptx) bytes("mlcc_library_ptx", *blobs.ptx);
  if (blobs.spirv) {
    llvm::Constant* init =
        llvm::ConstantDataArray::get(ctx, llvm::ArrayRef<uint32_t>(*blobs.spirv));
    auto* g = new llvm::GlobalVariable(m, init->getType(), true, llvm::GlobalValue::ExternalLinkage,
                                       init, "mlcc_library_spirv");
    g->setAlignment(llvm::Align(4));
  }
  if (blobs.hsaco) {
    llvm::Constant* init = llvm::ConstantDataArray::get(ctx, llvm::ArrayRef<uint8_t>(*blobs.hsaco));
    auto* g = new llvm::GlobalVariable(m, init->getType(), true, llvm::GlobalValue::ExternalLinkage,
                                       init, "mlcc_library_hsaco");
    g->setAlignment(llvm::Align(8));
    auto* i64 = llvm::Type::getInt64Ty(ctx);
    new llvm::GlobalVariable(m, i64, true, llvm::GlobalValue::ExternalLinkage,
                             llvm::ConstantInt::get(i64, blobs.hsaco->size()),
                             "mlcc_library_hsaco_size");
  }
  if (module_globals) {
    auto* i32 = llvm::Type::getInt32Ty(ctx);
    new llvm::GlobalVariable(m, i32, true, llvm::GlobalValue::ExternalLinkage,
                             llvm::ConstantInt::get(i32, MLCC_KERNEL_ABI_VERSION),
                             MLCC_KERNEL_ABI_VERSION_SYMBOL);
    auto* ptr = llvm::PointerType::get(ctx, 0);
    new llvm::GlobalVariable(m, ptr, false, llvm::GlobalValue::ExternalLinkage,
                             llvm::ConstantPointerNull::get(ptr), MLCC_PARALLEL_LAUNCH_SYMBOL);
  }
  std::string obj = emit_machine_code(m, *tm, false);
  return std::vector<uint8_t>(obj.begin(), obj.end());
}

}  // namespace

nlohmann::json postfix_extent(const ir::Expr& e, const ir::PrimFunc& f) {
  nlohmann::json out = nlohmann::json::array();
  postfix(e, f, out);
  return out;
}

namespace {

// The manifest fields a GPU kernel is launched with: grid (and, for CUDA and ROCm, block) as
// postfix expressions over the scalars, and the workgroup memory it declares.
void launch_fields(nlohmann::json& e, const ir::PrimFunc& k, const std::array<ir::Expr, 3>& grid,
                   const std::array<ir::Expr, 3>* block, int shared_bytes) {
  for (int d = 0; d < 3; ++d) {
    e["grid"].push_back(postfix_extent(grid[d], k));
    if (block) e["block"].push_back(postfix_extent((*block)[d], k));
  }
  e["shared_bytes"] = shared_bytes;
}

}  // namespace

void write_library(const std::vector<ir::PrimFunc>& kernels, nlohmann::json manifest,
                   const Target& target, const std::string& so_path) {
  if (target.kind == TargetKind::kMetal)
    throw Error("library: target '" + target.str() + "' has no library writer yet");
  std::vector<ir::PrimFunc> lowered;
  for (const ir::PrimFunc& k : kernels) lowered.push_back(passes::lower_for_codegen(k, target));
  nlohmann::json entries = nlohmann::json::array();
  for (const ir::PrimFunc& k : lowered)
    entries.push_back({{"name", k.name},
                       {"num_buffers", k.buffers.size()},
                       {"num_scalars", k.scalars.size()},
                       {"bytes", postfix_extent(ir::launch_bytes(k), k)}});

  std::vector<std::vector<uint8_t>> objects;
  if (target.kind == TargetKind::kCpu) {
    manifest["kernels"] = entries;
    objects.push_back(compile_cpu_object(lowered, target));
    objects.push_back(data_object(target, manifest.dump(), {}, false));
    link_shared_library(objects, target, so_path);
    return;
  }
  Target host = Target::host_cpu();
  if (target.kind == TargetKind::kVulkan) {
    // [count, then (word_count, words...) per kernel]: runtime/library_format.h.
    std::vector<uint32_t> blob{static_cast<uint32_t>(lowered.size())};
    for (size_t i = 0; i < lowered.size(); ++i) {
      SpirvKernel sk = build_spirv_kernel(lowered[i], target);
      launch_fields(entries[i], lowered[i], sk.grid, nullptr, sk.shared_bytes);
      blob.push_back(static_cast<uint32_t>(sk.words.size()));
      blob.insert(blob.end(), sk.words.begin(), sk.words.end());
    }
    manifest["kernels"] = entries;
    manifest["vulkan"] = {{"subgroup_size", target.warp_size}};
    objects.push_back(data_object(host, manifest.dump(), {.spirv = &blob}, true));
    link_shared_library(objects, host, so_path);
    return;
  }
  // CUDA and ROCm: the launch extents and scalar widths the runtime needs to launch each
  // kernel.
  std::string ptx;
  RocmCodeObject rocm;
  std::vector<GpuKernel> compiled;
  if (target.kind == TargetKind::kCuda) {
    for (CudaKernel& k : compile_cuda(lowered, target, &ptx)) compiled.push_back(std::move(k));
  } else {
    rocm = compile_rocm(lowered, target);
    compiled = rocm.kernels;
    manifest["rocm"] = {{"gfx", target.mcpu}, {"wavefront_size", target.warp_size}};
  }
  for (size_t i = 0; i < lowered.size(); ++i) {
    const ir::PrimFunc& k = lowered[i];
    nlohmann::json& e = entries[i];
    launch_fields(e, k, compiled[i].grid, &compiled[i].block, compiled[i].shared_bytes);
    e["scalar_bits"] = nlohmann::json::array();
    for (const ir::Var& v : k.scalars) e["scalar_bits"].push_back(v.dtype().bits == 64 ? 64 : 32);
  }
  manifest["kernels"] = entries;
  DeviceBlobs blobs;
  if (target.kind == TargetKind::kCuda)
    blobs.ptx = &ptx;
  else
    blobs.hsaco = &rocm.hsaco;
  objects.push_back(data_object(host, manifest.dump(), blobs, true));
  link_shared_library(objects, host, so_path);
}

}  // namespace mlcc::codegen
