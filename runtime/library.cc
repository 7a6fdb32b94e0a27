// Opening model libraries and parsing their manifests. Parsing checks every field the
// runtime reads, so a library from a mismatched compiler fails here with the field named
// rather than later inside a kernel.
#include "runtime/library.h"

#include <dlfcn.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "runtime/error.h"
#include "runtime/version.h"

namespace mlcc {
namespace {

using nlohmann::json;

// Reads fields of one JSON object; every error says which library, which field and what
// was expected there.
class Reader {
 public:
  Reader(const std::string& origin, const json& obj, std::string field)
      : origin_(origin), obj_(obj), field_(std::move(field)) {
    if (!obj_.is_object()) fail(field_, "a JSON object", &obj_);
  }

  [[noreturn]] void fail(const std::string& field, const std::string& expected,
                         const json* got) const {
    std::string msg = "library '" + origin_ + "': manifest field '" + field + "' ";
    if (got == nullptr)
      msg += "is missing; expected " + expected;
    else
      msg += "should be " + expected + ", got " + abbreviate(got->dump());
    throw Error(msg);
  }

  std::string sub(const std::string& key) const {
    return field_.empty() ? key : field_ + "." + key;
  }
  bool has(const std::string& key) const { return obj_.contains(key); }
  const json& get(const std::string& key, const std::string& expected) const {
    auto it = obj_.find(key);
    if (it == obj_.end()) fail(sub(key), expected, nullptr);
    return *it;
  }
  int64_t integer(const std::string& key, int64_t min_value = INT64_MIN) const {
    std::string expected = min_value == INT64_MIN ? "an integer"
                           : min_value == 0       ? "a non-negative integer"
                                                  : "an integer >= " + std::to_string(min_value);
    const json& v = get(key, expected);
    if (!v.is_number_integer() || v.get<int64_t>() < min_value) fail(sub(key), expected, &v);
    return v.get<int64_t>();
  }
  std::string string(const std::string& key) const {
    const json& v = get(key, "a string");
    if (!v.is_string() || v.get<std::string>().empty()) fail(sub(key), "a non-empty string", &v);
    return v.get<std::string>();
  }
  const json& array(const std::string& key) const {
    const json& v = get(key, "a JSON array");
    if (!v.is_array()) fail(sub(key), "a JSON array", &v);
    return v;
  }
  Reader object(const std::string& key) const {
    return Reader(origin_, get(key, "a JSON object"), sub(key));
  }
  Reader element(const json& v, const std::string& field) const {
    return Reader(origin_, v, field);
  }
  const std::string& origin() const { return origin_; }
  const std::string& field() const { return field_; }

 private:
  static std::string abbreviate(std::string s) {
    if (s.size() > 80) s = s.substr(0, 77) + "...";
    return s;
  }

  const std::string& origin_;
  const json& obj_;
  std::string field_;
};

std::string indexed(const std::string& field, size_t i) {
  return field + "[" + std::to_string(i) + "]";
}

std::vector<Dim> parse_shape(const Reader& r, const std::string& key) {
  std::vector<Dim> shape;
  const json& dims = r.array(key);
  for (size_t i = 0; i < dims.size(); ++i) {
    const json& d = dims[i];
    Dim dim;
    if (d.is_number_integer() && d.get<int64_t>() >= 0)
      dim.value = d.get<int64_t>();
    else if (d.is_string() && !d.get<std::string>().empty())
      dim.symbol = d.get<std::string>();
    else
      r.fail(indexed(r.sub(key), i), "a non-negative integer or a symbol name", &d);
    shape.push_back(dim);
  }
  return shape;
}

std::vector<TensorInfo> parse_tensors(const Reader& fn, const std::string& key) {
  std::vector<TensorInfo> out;
  const json& list = fn.array(key);
  for (size_t i = 0; i < list.size(); ++i) {
    Reader t = fn.element(list[i], indexed(fn.sub(key), i));
    TensorInfo info{t.string("name"), t.string("dtype"), parse_shape(t, "shape")};
    dtype_bytes(info.dtype,
                "library '" + fn.origin() + "': manifest field '" + t.sub("dtype") + "'");
    out.push_back(std::move(info));
  }
  return out;
}

FunctionInfo parse_function(const Reader& fn, const std::string& name) {
  FunctionInfo f;
  f.name = name;
  f.inputs = parse_tensors(fn, "inputs");
  const json& scalars = fn.array("scalars");
  for (size_t i = 0; i < scalars.size(); ++i) {
    if (!scalars[i].is_string() || scalars[i].get<std::string>().empty())
      fn.fail(indexed(fn.sub("scalars"), i), "a scalar name", &scalars[i]);
    f.scalars.push_back(scalars[i].get<std::string>());
  }
  f.outputs = parse_tensors(fn, "outputs");
  // Output sizes are worked out from the scalars, so every symbol must be one of them.
  for (size_t i = 0; i < f.outputs.size(); ++i)
    for (const Dim& d : f.outputs[i].shape)
      if (d.is_symbol() &&
          std::find(f.scalars.begin(), f.scalars.end(), d.symbol) == f.scalars.end())
        fn.fail(indexed(fn.sub("outputs"), i) + ".shape",
                "dimensions that are numbers or names of the function's scalars", nullptr);
  f.num_registers = fn.integer("num_registers", 0);
  const json& code = fn.array("code");
  f.code.reserve(code.size());
  for (size_t i = 0; i < code.size(); ++i) {
    if (!code[i].is_number_integer()) fn.fail(indexed(fn.sub("code"), i), "an integer", &code[i]);
    f.code.push_back(code[i].get<int64_t>());
  }
  return f;
}

KernelInfo parse_kernel(const Reader& k, const std::string& target_kind) {
  // CUDA and ROCm kernels need a grid and a block; Vulkan ones a grid (the block is in the
  // module).
  bool needs_block = target_kind == "cuda" || target_kind == "rocm";
  bool needs_grid = needs_block || target_kind == "vulkan";
  KernelInfo info;
  info.name = k.string("name");
  info.num_buffers = static_cast<int>(k.integer("num_buffers", 0));
  info.num_scalars = static_cast<int>(k.integer("num_scalars", 0));
  for (const char* key : {"grid", "block"}) {
    if (!k.has(key)) {
      if (std::string(key) == "grid" ? needs_grid : needs_block)
        k.fail(k.sub(key), "three launch extents (" + target_kind + " kernels)", nullptr);
      continue;
    }
    const json& dims = k.array(key);
    if (dims.size() != 3) k.fail(k.sub(key), "three launch extents", &dims);
    LaunchExpr* out = std::string(key) == "grid" ? info.grid : info.block;
    for (size_t a = 0; a < 3; ++a)
      out[a] = LaunchExpr::parse(
          dims[a], info.num_scalars,
          "library '" + k.origin() + "': manifest field '" + indexed(k.sub(key), a) + "'");
  }
  if (k.has("shared_bytes")) info.shared_bytes = k.integer("shared_bytes", 0);
  if (k.has("bytes")) {
    info.bytes =
        LaunchExpr::parse(k.array("bytes"), info.num_scalars,
                          "library '" + k.origin() + "': manifest field '" + k.sub("bytes") + "'");
    info.has_bytes = true;
  }
  info.scalar_bits.assign(info.num_scalars, 32);
  if (k.has("scalar_bits")) {
    const json& bits = k.array("scalar_bits");
    if (bits.size() != static_cast<size_t>(info.num_scalars))
      k.fail(k.sub("scalar_bits"), std::to_string(info.num_scalars) + " entries (num_scalars)",
             &bits);
    for (size_t i = 0; i < bits.size(); ++i) {
      if (bits[i] != 32 && bits[i] != 64)
        k.fail(indexed(k.sub("scalar_bits"), i), "32 or 64", &bits[i]);
      info.scalar_bits[i] = bits[i].get<int>();
    }
  }
  return info;
}

KVCacheInfo parse_kv_cache(const Reader& kv) {
  KVCacheInfo info;
  info.num_layers = kv.integer("num_layers", 0);
  info.num_kv_heads = kv.integer("num_kv_heads", 1);
  info.head_dim = kv.integer("head_dim", 1);
  info.page_size = kv.integer("page_size", 1);
  info.num_pages = kv.integer("num_pages", 1);
  info.dtype = kv.string("dtype");
  dtype_bytes(info.dtype,
              "library '" + kv.origin() + "': manifest field '" + kv.sub("dtype") + "'");
  return info;
}

// "vulkan": {"subgroup_size": N}, N a power of two as the target's -subgroup allows.
VulkanManifestInfo parse_vulkan(const Reader& r, bool required) {
  VulkanManifestInfo info;
  if (!r.has("vulkan")) {
    if (required)
      r.fail("vulkan", "a JSON object {\"subgroup_size\": N} (vulkan libraries)", nullptr);
    return info;
  }
  Reader v = r.object("vulkan");
  const char* expected = "a power of two from 1 to 128 (the target's -subgroup)";
  const json& n = v.get("subgroup_size", expected);
  if (!n.is_number_integer() || n.get<int64_t>() < 1 || n.get<int64_t>() > 128 ||
      (n.get<int64_t>() & (n.get<int64_t>() - 1)) != 0)
    v.fail(v.sub("subgroup_size"), expected, &n);
  info.subgroup_size = n.get<int64_t>();
  return info;
}

// "rocm": {"gfx": "gfx1100", "wavefront_size": 32}: the architecture a device must have.
RocmManifestInfo parse_rocm(const Reader& r, bool required) {
  RocmManifestInfo info;
  if (!r.has("rocm")) {
    if (required)
      r.fail("rocm", "a JSON object {\"gfx\": \"gfx...\", \"wavefront_size\": N} (rocm libraries)",
             nullptr);
    return info;
  }
  Reader v = r.object("rocm");
  const char* gfx_expected = "an AMDGPU architecture name such as \"gfx1100\"";
  const json& gfx = v.get("gfx", gfx_expected);
  if (!gfx.is_string() || gfx.get<std::string>().size() < 4 ||
      gfx.get<std::string>().rfind("gfx", 0) != 0 ||
      gfx.get<std::string>().find_first_not_of("0123456789abcdef", 3) != std::string::npos)
    v.fail(v.sub("gfx"), gfx_expected, &gfx);
  info.gfx = gfx.get<std::string>();
  const json& wave = v.get("wavefront_size", "32 or 64");
  if (!wave.is_number_integer() || (wave != 32 && wave != 64))
    v.fail(v.sub("wavefront_size"), "32 or 64", &wave);
  info.wavefront_size = wave.get<int64_t>();
  return info;
}

}  // namespace

size_t dtype_bytes(const std::string& dtype, const std::string& where) {
  static const std::pair<const char*, size_t> kSizes[] = {
      {"bool", 1}, {"i8", 1},  {"u8", 1},  {"i16", 2}, {"u16", 2}, {"f16", 2}, {"bf16", 2},
      {"i32", 4},  {"u32", 4}, {"f32", 4}, {"i64", 8}, {"u64", 8}, {"f64", 8}};
  for (const auto& [name, size] : kSizes)
    if (dtype == name) return size;
  throw Error(where + ": unknown dtype '" + dtype +
              "'; expected one of bool, i8, u8, i16, u16, f16, bf16, i32, u32, f32, i64, u64, f64");
}

size_t KVCacheInfo::layer_bytes() const {
  return static_cast<size_t>(num_pages * 2 * num_kv_heads * page_size * head_dim) *
         dtype_bytes(dtype, "kv_cache.dtype");
}

const FunctionInfo* Manifest::find_function(const std::string& name) const {
  auto it = functions.find(name);
  return it == functions.end() ? nullptr : &it->second;
}

int64_t Manifest::find_param(const std::string& name) const {
  for (size_t i = 0; i < params.size(); ++i)
    if (params[i].name == name) return static_cast<int64_t>(i);
  return -1;
}

// "cpu, cuda, rocm and vulkan" for messages.
static std::string join_kinds(const std::vector<std::string>& kinds) {
  std::string out;
  for (size_t i = 0; i < kinds.size(); ++i)
    out += (i == 0 ? "" : i + 1 == kinds.size() ? " and " : ", ") + kinds[i];
  return out;
}

const std::vector<std::string>& supported_target_kinds() {
#if MLCC_WITH_VULKAN
  static const std::vector<std::string> kinds = {"cpu", "cuda", "rocm", "vulkan"};
#else
  static const std::vector<std::string> kinds = {"cpu", "cuda", "rocm"};
#endif
  return kinds;
}

Manifest parse_manifest(const std::string& json_text, const std::string& origin) {
  json doc;
  try {
    doc = json::parse(json_text);
  } catch (const json::exception& e) {
    throw Error("library '" + origin + "': mlcc_library_manifest is not valid JSON: " + e.what());
  }
  Reader r(origin, doc, "");
  Manifest m;
  // The version comes first: a library of another format may differ in any other field.
  m.format_version = static_cast<int>(r.integer("format_version"));
  if (m.format_version != kLibraryFormatVersion)
    throw Error(
        "library '" + origin + "' was built with library format version " +
        std::to_string(m.format_version) + "; this runtime reads version " +
        std::to_string(kLibraryFormatVersion) +
        ". Recompile the model with this mlcc, or use the runtime of the mlcc that built it");
  m.target = r.string("target");
  m.target_kind = r.string("target_kind");
  const auto& kinds = supported_target_kinds();
  if (std::find(kinds.begin(), kinds.end(), m.target_kind) == kinds.end())
    throw Error("library '" + origin + "' was compiled for target kind '" + m.target_kind +
                "' (manifest field 'target_kind'), which this runtime cannot run; it runs " +
                join_kinds(kinds) + " libraries");
  if (r.has("mlcc_version")) m.mlcc_version = r.string("mlcc_version");
  if (r.has("model")) {
    r.object("model");  // checks that it is an object
    m.model = doc["model"];
  }
  if (r.has("quantization")) m.quantization = r.string("quantization");
  m.context_window = r.integer("context_window", 1);
  m.prefill_chunk_size = r.integer("prefill_chunk_size", 1);
  m.kv_cache = parse_kv_cache(r.object("kv_cache"));
  m.vulkan = parse_vulkan(r, m.target_kind == "vulkan");
  m.rocm = parse_rocm(r, m.target_kind == "rocm");
  if (m.kv_cache.num_pages * m.kv_cache.page_size < m.context_window)
    r.fail(
        "kv_cache.num_pages",
        "at least context_window / page_size = " +
            std::to_string((m.context_window + m.kv_cache.page_size - 1) / m.kv_cache.page_size) +
            " pages",
        &doc["kv_cache"]["num_pages"]);

  const json& params = r.array("params");
  std::set<std::string> param_names;
  for (size_t i = 0; i < params.size(); ++i) {
    Reader p = r.element(params[i], indexed("params", i));
    ParamInfo info;
    info.name = p.string("name");
    info.dtype = p.string("dtype");
    size_t bytes = dtype_bytes(info.dtype,
                               "library '" + origin + "': manifest field '" + p.sub("dtype") + "'");
    const json& shape = p.array("shape");
    for (size_t d = 0; d < shape.size(); ++d) {
      if (!shape[d].is_number_integer() || shape[d].get<int64_t>() < 0)
        p.fail(indexed(p.sub("shape"), d), "a non-negative integer", &shape[d]);
      info.shape.push_back(shape[d].get<int64_t>());
      bytes *= static_cast<size_t>(info.shape.back());
    }
    info.bytes = bytes;
    if (!param_names.insert(info.name).second)
      p.fail(p.sub("name"), "a name no other parameter has", &params[i]["name"]);
    m.params.push_back(std::move(info));
  }

  const json& kernels = r.array("kernels");
  for (size_t i = 0; i < kernels.size(); ++i)
    m.kernels.push_back(parse_kernel(r.element(kernels[i], indexed("kernels", i)), m.target_kind));

  const json& storages = r.array("storages");
  for (size_t i = 0; i < storages.size(); ++i) {
    if (!storages[i].is_number_integer() || storages[i].get<int64_t>() < 0)
      r.fail(indexed("storages", i), "a size in bytes", &storages[i]);
    m.storages.push_back(storages[i].get<int64_t>());
  }
  if (r.has("memory_plan")) {
    Reader plan = r.object("memory_plan");
    m.param_bytes = plan.integer("param_bytes", 0);
    m.activation_bytes = plan.integer("activation_bytes", 0);
    m.kv_cache_bytes = plan.integer("kv_cache_bytes", 0);
  }

  Reader functions = r.object("functions");
  for (const auto& [name, body] : doc["functions"].items())
    m.functions.emplace(name, parse_function(functions.element(body, "functions." + name), name));
  return m;
}

// The per-kernel modules of mlcc_library_spirv (library_format.h). The symbol's size is
// unknown here, so each module is checked to start with the SPIR-V magic number: that
// catches a count that runs off the blob before the words are read past it.
std::vector<std::span<const uint32_t>> Library::read_spirv_modules(const Library& lib,
                                                                   const std::string& abs) {
  const auto* words = static_cast<const uint32_t*>(lib.find_symbol("mlcc_library_spirv"));
  if (words == nullptr)
    throw Error("library '" + abs + "' targets vulkan but does not export mlcc_library_spirv");
  size_t count = lib.manifest_.kernels.size();
  if (words[0] != count)
    throw Error("library '" + abs + "': mlcc_library_spirv holds " + std::to_string(words[0]) +
                " SPIR-V modules; expected one per manifest kernel (" + std::to_string(count) +
                ")");
  std::vector<std::span<const uint32_t>> modules;
  size_t at = 1;
  for (size_t i = 0; i < count; ++i) {
    uint32_t n = words[at];
    if (n < 5 || words[at + 1] != 0x07230203u)
      throw Error("library '" + abs + "': module " + std::to_string(i) +
                  " of mlcc_library_spirv (kernel '" + lib.manifest_.kernels[i].name +
                  "') is not SPIR-V; expected a word count then the magic number 0x07230203");
    modules.emplace_back(words + at + 1, n);
    at += 1 + n;
  }
  return modules;
}

// mlcc_library_hsaco and its size (library_format.h): an ELF64 object for EM_AMDGPU, so
// that a blob of the wrong kind fails here, naming the library, rather than in the HIP
// runtime with hipErrorInvalidImage.
std::span<const uint8_t> Library::read_hsaco(const Library& lib, const std::string& abs) {
  const auto* bytes = static_cast<const uint8_t*>(lib.find_symbol("mlcc_library_hsaco"));
  const auto* size = static_cast<const uint64_t*>(lib.find_symbol("mlcc_library_hsaco_size"));
  if (bytes == nullptr || size == nullptr)
    throw Error("library '" + abs + "' targets rocm but does not export " +
                (bytes == nullptr ? "mlcc_library_hsaco" : "mlcc_library_hsaco_size") +
                " (the HSA code object" + (bytes == nullptr ? "" : "'s size") + ")");
  constexpr uint64_t kElf64HeaderBytes = 64;
  constexpr uint16_t kEmAmdgpu = 224;
  if (*size < kElf64HeaderBytes || bytes[0] != 0x7f || bytes[1] != 'E' || bytes[2] != 'L' ||
      bytes[3] != 'F')
    throw Error("library '" + abs + "': mlcc_library_hsaco (" + std::to_string(*size) +
                " bytes) is not an HSA code object: it does not start with an ELF header");
  uint16_t machine = static_cast<uint16_t>(bytes[18] | bytes[19] << 8);  // little-endian
  if (bytes[4] != 2 || machine != kEmAmdgpu)
    throw Error("library '" + abs +
                "': mlcc_library_hsaco is an ELF object but not a 64-bit AMDGPU code object "
                "(e_machine " +
                std::to_string(machine) + ", expected 224, EM_AMDGPU)");
  return {bytes, static_cast<size_t>(*size)};
}

std::unique_ptr<Library> Library::load(const std::string& path) {
  std::string abs = std::filesystem::absolute(path).lexically_normal().string();
  void* handle = dlopen(abs.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* e = dlerror();
    throw Error("cannot load model library '" + path + "': " + (e ? e : "unknown error"));
  }
  std::unique_ptr<Library> lib(new Library(handle, abs));
  const char* manifest = static_cast<const char*>(lib->find_symbol("mlcc_library_manifest"));
  if (manifest == nullptr)
    throw Error("'" + abs +
                "' is not an mlcc model library: it does not export mlcc_library_manifest");
  lib->manifest_ = parse_manifest(manifest, abs);
  const Manifest& m = lib->manifest_;
  if (m.target_kind == "cuda") {
    const char* ptx = static_cast<const char*>(lib->find_symbol("mlcc_library_ptx"));
    if (ptx == nullptr)
      throw Error("library '" + abs + "' targets cuda but does not export mlcc_library_ptx");
    lib->ptx_ = ptx;
  } else if (m.target_kind == "rocm") {
    lib->hsaco_ = read_hsaco(*lib, abs);
  } else if (m.target_kind == "vulkan") {
    lib->spirv_ = read_spirv_modules(*lib, abs);
  } else {
    for (size_t i = 0; i < m.kernels.size(); ++i)
      if (lib->find_symbol(m.kernels[i].name) == nullptr)
        throw Error("library '" + abs + "' does not export the kernel '" + m.kernels[i].name +
                    "' that manifest field 'kernels[" + std::to_string(i) + "].name' lists");
  }
  return lib;
}

Library::~Library() { dlclose(handle_); }

void* Library::find_symbol(const std::string& name) const { return dlsym(handle_, name.c_str()); }

}  // namespace mlcc
