// A compiled model library (runtime/library_format.h) opened with dlopen: its manifest
// parsed into plain structs and checked once, so that the VM, the devices and the model
// can trust every field afterwards. Every refusal names the file and the manifest field.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "runtime/launch_expr.h"

namespace mlcc {

// Element size of a dtype name of the manifest ("f16", "u32", ...); throws mlcc::Error
// naming `where` for a name the runtime does not know.
size_t dtype_bytes(const std::string& dtype, const std::string& where);

// One dimension of an input or output shape: a number, or a symbol ("seq_len") whose value
// is the function's scalar of that name.
struct Dim {
  int64_t value = 0;
  std::string symbol;  // empty for a constant
  bool is_symbol() const { return !symbol.empty(); }
};

struct TensorInfo {
  std::string name;
  std::string dtype;
  std::vector<Dim> shape;
};

struct ParamInfo {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  size_t bytes = 0;  // elements times the dtype's size
};

struct KernelInfo {
  std::string name;
  int num_buffers = 0;
  int num_scalars = 0;
  // Launch extents over the kernel's scalar arguments (grid: CUDA, ROCm and Vulkan; block:
  // CUDA and ROCm), and the width of each scalar parameter of the PTX or AMDGPU entry (32
  // unless "scalar_bits" says otherwise).
  LaunchExpr grid[3], block[3];
  std::vector<int> scalar_bits;
  // Workgroup (CUDA: static shared) memory the kernel declares, in bytes; 0 when the
  // manifest does not say ("shared_bytes"). Vulkan refuses kernels above the device's limit.
  int64_t shared_bytes = 0;
  // Global-memory bytes one launch moves ("bytes", optional), for per-kernel GB/s in
  // profiles; has_bytes is false where the manifest does not say.
  LaunchExpr bytes;
  bool has_bytes = false;
};

// The manifest's "vulkan" object (vulkan libraries only).
struct VulkanManifestInfo {
  // The -subgroup the kernels were compiled for: they need subgroups of at least this many
  // lanes (1 for libraries of other targets).
  int64_t subgroup_size = 1;
};

// The manifest's "rocm" object (rocm libraries only).
struct RocmManifestInfo {
  std::string gfx;             // the code object's architecture, "gfx1100"; empty elsewhere
  int64_t wavefront_size = 0;  // 32 or 64, as the kernels were compiled for
};

struct KVCacheInfo {
  int64_t num_layers = 0, num_kv_heads = 0, head_dim = 0, page_size = 16, num_pages = 0;
  std::string dtype = "f16";
  // One layer's pool: (num_pages, 2, num_kv_heads, page_size, head_dim) elements.
  size_t layer_bytes() const;
};

struct FunctionInfo {
  std::string name;
  std::vector<TensorInfo> inputs;
  std::vector<std::string> scalars;
  std::vector<TensorInfo> outputs;
  int64_t num_registers = 0;
  std::vector<int64_t> code;
};

struct Manifest {
  int format_version = 0;
  std::string mlcc_version;
  std::string target;       // e.g. "cuda -arch=sm_90"
  std::string target_kind;  // "cpu", "cuda", "rocm" or "vulkan"
  nlohmann::json model;     // the normalized model config, kept as given
  std::string quantization;
  int64_t context_window = 0;
  int64_t prefill_chunk_size = 0;
  KVCacheInfo kv_cache;
  VulkanManifestInfo vulkan;
  RocmManifestInfo rocm;
  std::vector<ParamInfo> params;
  std::vector<KernelInfo> kernels;
  std::vector<int64_t> storages;  // bytes of each activation arena
  int64_t param_bytes = 0, activation_bytes = 0, kv_cache_bytes = 0;  // "memory_plan"
  std::map<std::string, FunctionInfo> functions;

  const FunctionInfo* find_function(const std::string& name) const;
  // Index of the parameter `name` in `params`, or -1.
  int64_t find_param(const std::string& name) const;
};

// Parses and checks manifest JSON. `origin` (the library's path) starts every error
// message. Refuses another format version, a target kind this runtime cannot run, and any
// field that is missing or of the wrong type or range. The bytecode is checked later, by
// the VM (runtime/vm.h).
Manifest parse_manifest(const std::string& json_text, const std::string& origin);

// The target kinds this runtime can run ("cpu", "cuda", "rocm", and "vulkan" where built
// with it).
const std::vector<std::string>& supported_target_kinds();

class Library {
 public:
  // dlopens path and parses its manifest. Throws mlcc::Error naming the file when it
  // cannot be loaded, exports no mlcc_library_manifest (not an mlcc library), or has a
  // manifest parse_manifest refuses; a cuda library must also export mlcc_library_ptx, a
  // rocm library mlcc_library_hsaco and mlcc_library_hsaco_size (an AMDGPU ELF code
  // object), a vulkan library mlcc_library_spirv with one module per kernel.
  static std::unique_ptr<Library> load(const std::string& path);
  ~Library();
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;

  const Manifest& manifest() const { return manifest_; }
  const std::string& path() const { return path_; }  // absolute
  // The PTX module of a cuda library ("" for other targets).
  const std::string& ptx() const { return ptx_; }
  // The HSA code object of a rocm library (empty for other targets); the bytes live in the
  // loaded library.
  std::span<const uint8_t> hsaco() const { return hsaco_; }
  // The SPIR-V module of each kernel of a vulkan library, in manifest order (empty for other
  // targets); the words live in the loaded library.
  const std::vector<std::span<const uint32_t>>& spirv() const { return spirv_; }
  // Any exported symbol, or nullptr.
  void* find_symbol(const std::string& name) const;

 private:
  Library(void* handle, std::string path) : handle_(handle), path_(std::move(path)) {}
  static std::vector<std::span<const uint32_t>> read_spirv_modules(const Library& lib,
                                                                   const std::string& abs);
  static std::span<const uint8_t> read_hsaco(const Library& lib, const std::string& abs);

  void* handle_;
  std::string path_;
  Manifest manifest_;
  std::string ptx_;
  std::span<const uint8_t> hsaco_;
  std::vector<std::span<const uint32_t>> spirv_;
};

}  // namespace mlcc
