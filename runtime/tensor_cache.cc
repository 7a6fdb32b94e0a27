// Reading MLC-LLM's tensor-cache.json weight index and copying the shards it names into a
// compiled model's parameters (runtime/tensor_cache.h). Everything is checked against the
// library's manifest before the first byte is copied, so a wrong model directory fails
// with one message instead of a half-loaded model.
#include "runtime/tensor_cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "runtime/error.h"
#include "runtime/model.h"

namespace mlcc {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// A read-only mapping of one shard: copied to the device straight from the page cache, and
// unmapped before the next shard so that memory stays at one shard.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const uint8_t* data() const { return data_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

MappedFile::MappedFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot open '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error("'" + path + "' is not a regular file");
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      throw Error("cannot map '" + path + "' (" + std::to_string(size_) +
                  " bytes): " + std::strerror(err));
    }
    data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);  // the mapping keeps the file
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

// Tensor-cache dtype names (numpy's, as TVM writes them) and the manifest's.
constexpr std::pair<const char*, const char*> kDtypeNames[] = {
    {"float16", "f16"}, {"float32", "f32"}, {"bfloat16", "bf16"}, {"float64", "f64"},
    {"uint32", "u32"},  {"int32", "i32"},   {"uint8", "u8"},      {"int8", "i8"},
    {"uint16", "u16"},  {"int16", "i16"},   {"uint64", "u64"},    {"int64", "i64"},
    {"bool", "bool"}};

std::string accepted_names(bool cache) {
  std::string s;
  for (const auto& [c, m] : kDtypeNames) s += std::string(s.empty() ? "" : ", ") + (cache ? c : m);
  return s;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Field access that names the file and the JSON path of the field in every error.
struct Fields {
  const std::string& file;
  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw Error(file + ": field '" + field + "' " + what);
  }
  const json& at(const json& j, const std::string& key, const std::string& path) const {
    if (!j.is_object() || !j.contains(key)) fail(path + key, "is missing");
    return j[key];
  }
  std::string str(const json& j, const std::string& key, const std::string& path) const {
    const json& v = at(j, key, path);
    if (!v.is_string())
      fail(path + key, "is a " + std::string(v.type_name()) + " (expected a string)");
    return v.get<std::string>();
  }
  size_t size(const json& j, const std::string& key, const std::string& path) const {
    const json& v = at(j, key, path);
    if (!v.is_number_integer() || v.get<int64_t>() < 0)
      fail(path + key, "is " + v.dump() + " (expected a non-negative integer)");
    return v.get<size_t>();
  }
  const json& array(const json& j, const std::string& key, const std::string& path) const {
    const json& v = at(j, key, path);
    if (!v.is_array())
      fail(path + key, "is a " + std::string(v.type_name()) + " (expected a list)");
    return v;
  }
};

TensorRecord parse_record(const Fields& f, const json& j, const std::string& path) {
  TensorRecord r;
  r.name = f.str(j, "name", path);
  for (const json& d : f.array(j, "shape", path)) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0)
      f.fail(path + "shape",
             "of '" + r.name + "' is " + j["shape"].dump() + " (expected non-negative integers)");
    r.shape.push_back(d.get<int64_t>());
  }
  r.dtype = f.str(j, "dtype", path);
  const std::string manifest_dtype = cache_dtype_to_manifest(r.dtype);
  r.format = j.contains("format") ? f.str(j, "format", path) : "raw";
  r.nbytes = f.size(j, "nbytes", path);
  r.byte_offset = f.size(j, "byteOffset", path);
  size_t elements = 1;
  for (int64_t d : r.shape) elements *= static_cast<size_t>(d);
  size_t expected = 0;
  if (r.format == "raw")
    expected = elements * dtype_bytes(manifest_dtype, f.file);
  else if (r.format == "f32-to-bf16" && r.dtype == "float32")
    expected = elements * 2;
  else
    f.fail(path + "format", "of '" + r.name + "' is \"" + r.format + "\" with dtype " + r.dtype +
                                " (expected \"raw\", or \"f32-to-bf16\" with float32)");
  if (r.nbytes != expected)
    f.fail(path + "nbytes", "of '" + r.name + "' is " + std::to_string(r.nbytes) + " but " +
                                r.dtype + shape_text(r.shape) + " in format " + r.format + " has " +
                                std::to_string(expected) + " bytes");
  return r;
}

}  // namespace

std::string cache_dtype_to_manifest(const std::string& cache_dtype) {
  for (const auto& [c, m] : kDtypeNames)
    if (cache_dtype == c) return m;
  throw Error("unknown tensor-cache dtype '" + cache_dtype + "' (expected one of " +
              accepted_names(true) + ")");
}

std::string manifest_dtype_to_cache(const std::string& manifest_dtype) {
  for (const auto& [c, m] : kDtypeNames)
    if (manifest_dtype == m) return c;
  throw Error("unknown manifest dtype '" + manifest_dtype + "' (expected one of " +
              accepted_names(false) + ")");
}

TensorCache TensorCache::read(const std::string& dir) {
  fs::path index = fs::path(dir) / kTensorCacheFile;
  if (!fs::exists(index) && fs::exists(fs::path(dir) / kLegacyTensorCacheFile))
    index = fs::path(dir) / kLegacyTensorCacheFile;
  const std::string file = index.string();
  std::ifstream in(file, std::ios::binary);
  if (!in)
    throw Error("cannot open '" + file + "' (expected the weight index " + kTensorCacheFile +
                " of a model directory written by mlcc convert-weight or MLC-LLM)");
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error(file + ": not a JSON object");
  const Fields f{file};

  TensorCache cache;
  cache.dir = dir;
  cache.metadata = j.contains("metadata") ? j["metadata"] : json::object();
  std::set<std::string> names;
  const json& shards = f.array(j, "records", "");
  for (size_t s = 0; s < shards.size(); ++s) {
    const std::string path = "records[" + std::to_string(s) + "].";
    const json& sj = shards[s];
    TensorShard shard;
    shard.data_path = f.str(sj, "dataPath", path);
    if (sj.contains("format") && f.str(sj, "format", path) != "raw-shard")
      f.fail(path + "format",
             "is \"" + sj["format"].get<std::string>() + "\" (expected \"raw-shard\")");
    shard.nbytes = f.size(sj, "nbytes", path);
    if (sj.contains("md5sum") && sj["md5sum"].is_string()) shard.md5sum = sj["md5sum"];
    const json& recs = f.array(sj, "records", path);
    for (size_t r = 0; r < recs.size(); ++r) {
      const std::string rpath = path + "records[" + std::to_string(r) + "].";
      TensorRecord rec = parse_record(f, recs[r], rpath);
      if (rec.byte_offset + rec.nbytes > shard.nbytes)
        f.fail(rpath + "byteOffset",
               "of '" + rec.name + "' puts bytes [" + std::to_string(rec.byte_offset) + ", " +
                   std::to_string(rec.byte_offset + rec.nbytes) + ") outside its shard '" +
                   shard.data_path + "' of " + std::to_string(shard.nbytes) + " bytes");
      if (!names.insert(rec.name).second)
        f.fail(rpath + "name", "'" + rec.name + "' appears twice");
      shard.records.push_back(std::move(rec));
    }
    const fs::path data = fs::path(dir) / shard.data_path;
    std::error_code ec;
    const auto size = fs::file_size(data, ec);
    if (ec) throw Error(file + ": shard '" + data.string() + "' (" + path + "dataPath) is missing");
    if (size < shard.nbytes)
      throw Error(file + ": shard '" + data.string() + "' has " + std::to_string(size) +
                  " bytes, but the index says " + std::to_string(shard.nbytes) +
                  " (truncated or interrupted download?)");
    cache.shards.push_back(std::move(shard));
  }
  return cache;
}

json TensorCache::to_json() const {
  json out = json::array();
  for (const TensorShard& s : shards) {
    json recs = json::array();
    for (const TensorRecord& r : s.records)
      recs.push_back({{"name", r.name},
                      {"shape", r.shape},
                      {"dtype", r.dtype},
                      {"format", r.format},
                      {"nbytes", r.nbytes},
                      {"byteOffset", r.byte_offset}});
    json sj = {{"dataPath", s.data_path},
               {"format", "raw-shard"},
               {"nbytes", s.nbytes},
               {"records", std::move(recs)}};
    if (!s.md5sum.empty()) sj["md5sum"] = s.md5sum;
    out.push_back(std::move(sj));
  }
  return {{"metadata", metadata.is_null() ? json::object() : metadata},
          {"records", std::move(out)}};
}

const TensorRecord* TensorCache::find(const std::string& name, const TensorShard** shard) const {
  for (const TensorShard& s : shards)
    for (const TensorRecord& r : s.records)
      if (r.name == name) {
        if (shard) *shard = &s;
        return &r;
      }
  return nullptr;
}

void load_params(Model& model, const std::string& dir,
                 const std::function<void(size_t, size_t)>& progress) {
  const TensorCache cache = TensorCache::read(dir);
  const Manifest& manifest = model.manifest();
  const std::string where = "model directory '" + dir + "'";

  // Everything is checked first: a wrong directory must not leave a half-loaded model.
  std::vector<std::string> problems;
  std::map<const TensorShard*, std::vector<std::pair<const TensorRecord*, const ParamInfo*>>> plan;
  size_t total = 0;
  for (const ParamInfo& p : manifest.params) {
    const TensorShard* shard = nullptr;
    const TensorRecord* r = cache.find(p.name, &shard);
    if (!r) {
      problems.push_back("tensor '" + p.name + "' is missing (the library expects " + p.dtype +
                         shape_text(p.shape) + ")");
      continue;
    }
    const std::string found = cache_dtype_to_manifest(r->dtype);
    if (r->shape != p.shape || found != p.dtype) {
      problems.push_back("tensor '" + p.name + "' is " + found + shape_text(r->shape) +
                         " but the library expects " + p.dtype + shape_text(p.shape));
      continue;
    }
    plan[shard].push_back({r, &p});
    total += p.bytes;
  }
  if (!problems.empty()) {
    std::string msg = where + " does not fit library '" + model.library().path() + "': ";
    const size_t shown = std::min<size_t>(problems.size(), 8);
    for (size_t i = 0; i < shown; ++i) msg += (i ? "; " : "") + problems[i];
    if (problems.size() > shown)
      msg += "; and " + std::to_string(problems.size() - shown) + " more";
    throw Error(msg + " (was it converted for another model or quantization?)");
  }

  size_t done = 0;
  if (progress) progress(0, total);
  std::vector<uint32_t> decoded;
  for (const TensorShard& shard : cache.shards) {
    auto it = plan.find(&shard);
    if (it == plan.end()) continue;
    const MappedFile data((fs::path(dir) / shard.data_path).string());
    for (const auto& [r, p] : it->second) {
      const uint8_t* src = data.data() + r->byte_offset;
      if (r->format == "f32-to-bf16") {  // bf16 bits are the high half of the f32
        decoded.resize(r->nbytes / 2);
        for (size_t i = 0; i < decoded.size(); ++i) {
          uint16_t b;
          std::memcpy(&b, src + 2 * i, 2);
          decoded[i] = static_cast<uint32_t>(b) << 16;
        }
        model.set_param(p->name, decoded.data(), decoded.size() * 4);
      } else {
        model.set_param(p->name, src, r->nbytes);
      }
      done += p->bytes;
      if (progress) progress(done, total);
    }
  }
}

}  // namespace mlcc
