// The GGUF writer (tools/convert_weight/gguf_writer.h): header, metadata, tensor table,
// then the tensor data aligned to general.alignment (32 unless set).
#include "tools/convert_weight/gguf_writer.h"

#include <fstream>

#include "runtime/error.h"

namespace mlcc::convert {

namespace {

using nlohmann::json;

gguf::ValueType infer(const std::string& key, const json& v) {
  if (key == "tokenizer.ggml.token_type") return gguf::kI32;
  if (key == "tokenizer.ggml.scores") return gguf::kF32;
  const json& s = v.is_array() && !v.empty() ? v[0] : v;
  if (s.is_string() || (v.is_array() && v.empty())) return gguf::kString;
  if (s.is_boolean()) return gguf::kBool;
  if (s.is_number_float()) return gguf::kF32;
  if (s.is_number_unsigned()) return s.get<uint64_t>() <= UINT32_MAX ? gguf::kU32 : gguf::kU64;
  if (s.is_number_integer()) {
    const int64_t i = s.get<int64_t>();
    return i >= INT32_MIN && i <= INT32_MAX ? gguf::kI32 : gguf::kI64;
  }
  throw Error("GGUF metadata '" + key + "': cannot store " + v.dump());
}

class Out {
 public:
  void raw(const void* p, size_t n) { bytes.append(static_cast<const char*>(p), n); }
  template <typename T>
  void put(T v) {
    raw(&v, sizeof v);
  }
  void str(const std::string& s) {
    put<uint64_t>(s.size());
    raw(s.data(), s.size());
  }
  void scalar(const std::string& key, const json& v, gguf::ValueType t) {
    auto bad = [&] {
      throw Error("GGUF metadata '" + key + "': " + v.dump() + " is not of its type");
    };
    switch (t) {
      case gguf::kString:
        if (!v.is_string()) bad();
        return str(v.get<std::string>());
      case gguf::kBool:
        if (!v.is_boolean()) bad();
        return put<uint8_t>(v.get<bool>() ? 1 : 0);
      case gguf::kF32:
      case gguf::kF64:
        if (!v.is_number()) bad();
        return t == gguf::kF32 ? put(v.get<float>()) : put(v.get<double>());
      default:
        break;
    }
    if (!v.is_number_integer()) bad();
    switch (t) {
      case gguf::kU8:
        return put(v.get<uint8_t>());
      case gguf::kI8:
        return put(v.get<int8_t>());
      case gguf::kU16:
        return put(v.get<uint16_t>());
      case gguf::kI16:
        return put(v.get<int16_t>());
      case gguf::kU32:
        return put(v.get<uint32_t>());
      case gguf::kI32:
        return put(v.get<int32_t>());
      case gguf::kU64:
        return put(v.get<uint64_t>());
      case gguf::kI64:
        return put(v.get<int64_t>());
      default:
        bad();
    }
  }
  std::string bytes;
};

}  // namespace

void GgufWriter::set(const std::string& key, const json& value) {
  set(key, value, infer(key, value));
}

void GgufWriter::set(const std::string& key, const json& value, gguf::ValueType type) {
  for (Entry& e : entries_)
    if (e.key == key) {
      e.value = value, e.type = type;
      return;
    }
  entries_.push_back({key, value, type});
}

void GgufWriter::add_tensor(const std::string& name, std::vector<int64_t> dims, uint32_t type,
                            std::vector<uint8_t> data) {
  tensors_.push_back({name, std::move(dims), type, std::move(data)});
}

void GgufWriter::write(const std::string& path) const {
  uint64_t alignment = 32;
  for (const Entry& e : entries_)
    if (e.key == "general.alignment") alignment = e.value.get<uint64_t>();
  Out o;
  o.raw("GGUF", 4);
  o.put<uint32_t>(3);
  o.put<uint64_t>(tensors_.size());
  o.put<uint64_t>(entries_.size());
  for (const Entry& e : entries_) {
    o.str(e.key);
    if (e.value.is_array()) {
      o.put<uint32_t>(gguf::kArray);
      o.put<uint32_t>(e.type);
      o.put<uint64_t>(e.value.size());
      for (const json& v : e.value) o.scalar(e.key, v, e.type);
    } else {
      o.put<uint32_t>(e.type);
      o.scalar(e.key, e.value, e.type);
    }
  }
  uint64_t offset = 0;  // relative to the data section
  for (const Tensor& t : tensors_) {
    o.str(t.name);
    o.put<uint32_t>(static_cast<uint32_t>(t.dims.size()));
    for (int64_t d : t.dims) o.put<uint64_t>(static_cast<uint64_t>(d));
    o.put<uint32_t>(t.type);
    o.put<uint64_t>(offset);
    offset += (t.data.size() + alignment - 1) / alignment * alignment;
  }
  for (const Tensor& t : tensors_) {
    o.bytes.resize((o.bytes.size() + alignment - 1) / alignment * alignment, '\0');
    o.raw(t.data.data(), t.data.size());
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(o.bytes.data(), static_cast<std::streamsize>(o.bytes.size()));
  out.close();
  if (!out) throw Error("cannot write '" + path + "'");
}

}  // namespace mlcc::convert
