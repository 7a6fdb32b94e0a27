// GGUF reader (runtime/gguf.h): a buffered sequential parse of the header, metadata and
// tensor table. Tensor data is never read here; each tensor's extent is checked against
// the file size so that callers can trust offsets.
#include "runtime/gguf.h"

#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "runtime/error.h"

namespace mlcc::gguf {

namespace {

struct TypeTraits {
  const char* name;
  int64_t block_elements;  // 0: size unknown to mlcc
  int64_t block_bytes;
};

// ggml's type numbers; names as ggml prints them.
TypeTraits type_traits(uint32_t type) {
  static const std::array<TypeTraits, 31> kTypes = {{
      {"F32", 1, 4},      {"F16", 1, 2},      {"Q4_0", 32, 18},   {"Q4_1", 32, 20},
      {"type 4", 0, 0},   {"type 5", 0, 0},   {"Q5_0", 32, 22},   {"Q5_1", 32, 24},
      {"Q8_0", 32, 34},   {"Q8_1", 32, 36},   {"Q2_K", 256, 84},  {"Q3_K", 256, 110},
      {"Q4_K", 256, 144}, {"Q5_K", 256, 176}, {"Q6_K", 256, 210}, {"Q8_K", 256, 292},
      {"IQ2_XXS", 0, 0},  {"IQ2_XS", 0, 0},   {"IQ3_XXS", 0, 0},  {"IQ1_S", 0, 0},
      {"IQ4_NL", 0, 0},   {"IQ3_S", 0, 0},    {"IQ2_S", 0, 0},    {"IQ4_XS", 0, 0},
      {"I8", 1, 1},       {"I16", 1, 2},      {"I32", 1, 4},      {"I64", 1, 8},
      {"F64", 1, 8},      {"IQ1_M", 0, 0},    {"BF16", 1, 2},
  }};
  if (type < kTypes.size()) return kTypes[type];
  return {nullptr, 0, 0};
}

class Reader {
 public:
  explicit Reader(const std::string& path) : path_(path), in_(path, std::ios::binary) {
    if (!in_) throw Error(path + ": cannot open the file");
    in_.rdbuf()->pubsetbuf(buf_, sizeof buf_);
  }
  void read(void* dst, size_t n, const char* what) {
    in_.read(static_cast<char*>(dst), static_cast<std::streamsize>(n));
    if (static_cast<size_t>(in_.gcount()) != n)
      throw Error(path_ + ": truncated GGUF file (ended inside " + what + ")");
  }
  template <typename T>
  T get(const char* what) {
    T v;
    read(&v, sizeof v, what);
    return v;
  }
  std::string string(const char* what) {
    uint64_t n = get<uint64_t>(what);
    if (n > (uint64_t{1} << 30)) throw Error(path_ + ": implausible string length in " + what);
    std::string s(n, '\0');
    read(s.data(), n, what);
    return s;
  }
  uint64_t position() { return static_cast<uint64_t>(in_.tellg()); }

 private:
  std::string path_;
  std::ifstream in_;
  char buf_[1 << 16];
};

nlohmann::json read_scalar(Reader& r, uint32_t type, const std::string& key) {
  const char* what = key.c_str();
  switch (type) {
    case kU8:
      return r.get<uint8_t>(what);
    case kI8:
      return r.get<int8_t>(what);
    case kU16:
      return r.get<uint16_t>(what);
    case kI16:
      return r.get<int16_t>(what);
    case kU32:
      return r.get<uint32_t>(what);
    case kI32:
      return r.get<int32_t>(what);
    case kF32:
      return r.get<float>(what);
    case kBool:
      return r.get<uint8_t>(what) != 0;
    case kString:
      return r.string(what);
    case kU64:
      return r.get<uint64_t>(what);
    case kI64:
      return r.get<int64_t>(what);
    case kF64:
      return r.get<double>(what);
  }
  throw Error("metadata key '" + key + "' has unknown value type " + std::to_string(type));
}

nlohmann::json read_value(Reader& r, uint32_t type, const std::string& key) {
  if (type != kArray) return read_scalar(r, type, key);
  uint32_t elem = r.get<uint32_t>(key.c_str());
  uint64_t n = r.get<uint64_t>(key.c_str());
  if (elem == kArray) throw Error("metadata key '" + key + "' is an array of arrays");
  nlohmann::json a = nlohmann::json::array();
  a.get_ref<nlohmann::json::array_t&>().reserve(n);
  for (uint64_t i = 0; i < n; ++i) a.push_back(read_scalar(r, elem, key));
  return a;
}

}  // namespace

std::string tensor_type_name(uint32_t type) {
  const char* n = type_traits(type).name;
  return n ? n : "type " + std::to_string(type);
}

int64_t TensorInfo::elements() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

const TensorInfo* File::find(const std::string& name) const {
  for (const TensorInfo& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

const nlohmann::json& File::at(const std::string& key) const {
  auto it = metadata.find(key);
  if (it == metadata.end()) throw Error(path + ": GGUF metadata has no key '" + key + "'");
  return *it;
}

File read(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) throw Error(path + ": no such file");
  const uint64_t file_size = std::filesystem::file_size(path);
  Reader r(path);
  File f;
  f.path = path;
  char magic[4];
  r.read(magic, 4, "the header");
  if (std::memcmp(magic, "GGUF", 4) != 0)
    throw Error(path + ": not a GGUF file (the first bytes are not \"GGUF\")");
  f.version = r.get<uint32_t>("the header");
  if (f.version != 2 && f.version != 3)
    throw Error(path + ": GGUF version " + std::to_string(f.version) +
                " is not supported (expected 2 or 3)");
  const uint64_t n_tensors = r.get<uint64_t>("the header");
  const uint64_t n_kv = r.get<uint64_t>("the header");
  if (n_tensors > (uint64_t{1} << 24) || n_kv > (uint64_t{1} << 24))
    throw Error(path + ": implausible GGUF header (" + std::to_string(n_tensors) + " tensors, " +
                std::to_string(n_kv) + " metadata keys)");

  f.metadata = nlohmann::json::object();
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = r.string("a metadata key");
    uint32_t type = r.get<uint32_t>(key.c_str());
    try {
      f.metadata[key] = read_value(r, type, key);
    } catch (const Error& e) {
      throw Error(path + ": " + e.what());
    }
  }

  f.tensors.resize(n_tensors);
  for (TensorInfo& t : f.tensors) {
    t.name = r.string("the tensor table");
    uint32_t n_dims = r.get<uint32_t>(t.name.c_str());
    if (n_dims > 8)
      throw Error(path + ": tensor '" + t.name + "' has " + std::to_string(n_dims) +
                  " dimensions (at most 8 expected)");
    t.dims.resize(n_dims);
    for (int64_t& d : t.dims) {
      uint64_t v = r.get<uint64_t>(t.name.c_str());
      if (v > uint64_t{1} << 40)
        throw Error(path + ": tensor '" + t.name + "' has an implausible dimension");
      d = static_cast<int64_t>(v);
    }
    t.type = r.get<uint32_t>(t.name.c_str());
    t.offset = r.get<uint64_t>(t.name.c_str());
  }

  uint64_t alignment = 32;
  if (auto it = f.metadata.find("general.alignment"); it != f.metadata.end()) {
    if (!it->is_number_unsigned() || it->get<uint64_t>() == 0)
      throw Error(path + ": general.alignment must be a positive integer");
    alignment = it->get<uint64_t>();
  }
  const uint64_t pos = r.position();
  f.data_offset = (pos + alignment - 1) / alignment * alignment;
  for (TensorInfo& t : f.tensors) {
    t.offset += f.data_offset;
    TypeTraits tt = type_traits(t.type);
    if (tt.block_elements == 0) continue;
    const int64_t n = t.elements();
    if (n % tt.block_elements != 0)
      throw Error(path + ": tensor '" + t.name + "' of type " + tensor_type_name(t.type) + " has " +
                  std::to_string(n) + " elements, not a multiple of its block of " +
                  std::to_string(tt.block_elements));
    t.bytes = static_cast<uint64_t>(n / tt.block_elements * tt.block_bytes);
    if (t.offset + t.bytes > file_size)
      throw Error(path + ": truncated GGUF file: tensor '" + t.name + "' ends at byte " +
                  std::to_string(t.offset + t.bytes) + " but the file has " +
                  std::to_string(file_size) + " bytes");
  }
  return f;
}

}  // namespace mlcc::gguf
