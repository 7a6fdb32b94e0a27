// The Hugging Face checkpoint reader: config.json plus safetensors files (one, or shards
// named by model.safetensors.index.json), read a range of rows at a time, never loaded
// whole. A safetensors file is an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets: [begin, end)}} and the data the offsets point into.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "ir/half.h"
#include "runtime/error.h"
#include "tools/convert_weight/weight_source.h"

namespace mlcc::convert {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct StTensor {
  std::string dtype;  // "F32", "F16", "BF16", or another the reader refuses when used
  std::vector<int64_t> shape;
  size_t begin = 0, end = 0;  // absolute offsets in the file
};

class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path) : file_(path) {
    auto fail = [&](const std::string& what) { throw Error(path + ": " + what); };
    const uint64_t size = file_.size();
    if (size < 8) fail("only " + std::to_string(size) + " bytes (not safetensors)");
    uint64_t header_len = 0;
    file_.read(0, 8, &header_len, "the header length");
    if (header_len > size - 8 || header_len > (uint64_t{1} << 28))
      fail("header of " + std::to_string(header_len) + " bytes but the file has " +
           std::to_string(size) + " (truncated, or not safetensors)");
    std::string text(header_len, '\0');
    file_.read(8, header_len, text.data(), "the header");
    json header = json::parse(text, nullptr, false);
    if (header.is_discarded() || !header.is_object()) fail("header is not a JSON object");
    const size_t data_start = 8 + header_len;
    for (const auto& [name, t] : header.items()) {
      if (name == "__metadata__") continue;
      auto bad = [&](const std::string& what) { fail("tensor '" + name + "': " + what); };
      if (!t.is_object() || !t.contains("dtype") || !t["dtype"].is_string() ||
          !t.contains("shape") || !t["shape"].is_array() || !t.contains("data_offsets") ||
          !t["data_offsets"].is_array() || t["data_offsets"].size() != 2)
        bad("header entry " + t.dump() + " (expected dtype, shape and data_offsets)");
      StTensor st;
      st.dtype = t["dtype"];
      size_t elements = 1;
      for (const json& d : t["shape"]) {
        if (!d.is_number_unsigned()) bad("shape " + t["shape"].dump() + " is not a list of sizes");
        st.shape.push_back(d.get<int64_t>());
        elements *= d.get<size_t>();
      }
      for (const json& o : t["data_offsets"])
        if (!o.is_number_unsigned()) bad("data_offsets " + t["data_offsets"].dump());
      st.begin = data_start + t["data_offsets"][0].get<size_t>();
      st.end = data_start + t["data_offsets"][1].get<size_t>();
      if (st.end < st.begin) bad("data_offsets " + t["data_offsets"].dump() + " are reversed");
      if (st.end > size)
        bad("data ends at byte " + std::to_string(st.end) + " but the file has " +
            std::to_string(size) + " bytes (truncated file?)");
      const size_t width = element_bytes(st.dtype);
      if (width && st.end - st.begin != elements * width)
        bad(st.dtype + shape_text(st.shape) + " needs " + std::to_string(elements * width) +
            " bytes but data_offsets span " + std::to_string(st.end - st.begin));
      tensors_[name] = std::move(st);
    }
  }

  const std::string& path() const { return file_.path(); }
  const std::map<std::string, StTensor>& tensors() const { return tensors_; }
  const StTensor* find(const std::string& name) const {
    auto it = tensors_.find(name);
    return it == tensors_.end() ? nullptr : &it->second;
  }
  // Elements [first, first + count) of a tensor as f32.
  void read(const std::string& name, const StTensor& t, size_t first, size_t count,
            float* dst) const {
    const uint64_t at = t.begin + first * element_bytes(t.dtype);
    const std::string what = "tensor '" + name + "'";
    if (t.dtype == "F32") return file_.read(at, count * 4, dst, what);
    std::vector<uint16_t> bits(count);
    file_.read(at, count * 2, bits.data(), what);
    const bool half = t.dtype == "F16";
    for (size_t i = 0; i < count; ++i)
      dst[i] = half ? half_to_float(bits[i]) : bf16_to_float(bits[i]);
  }

  static size_t element_bytes(const std::string& dtype) {
    if (dtype == "F32") return 4;
    if (dtype == "F16" || dtype == "BF16") return 2;
    return 0;  // unsupported: refused when the tensor is used
  }

 private:
  SourceFile file_;
  std::map<std::string, StTensor> tensors_;
};

json read_json(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open '" + path.string() + "'");
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded()) throw Error(path.string() + ": not valid JSON");
  return j;
}

// A token id field of config.json: an integer, or a list whose first entry counts.
int32_t token_id(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return -1;
  const json& v = j[key].is_array() && !j[key].empty() ? j[key][0] : j[key];
  return v.is_number_integer() ? v.get<int32_t>() : -1;
}

class HfSource : public WeightSource {
 public:
  explicit HfSource(const std::string& dir) : dir_(dir) {
    const fs::path d(dir);
    config_json_ = read_json(d / "config.json");
    config_ = models::parse_hf_config(config_json_, (d / "config.json").string());
    const fs::path index = d / "model.safetensors.index.json";
    if (fs::exists(index)) {
      const json j = read_json(index);
      if (!j.contains("weight_map") || !j["weight_map"].is_object())
        throw Error(index.string() + ": field 'weight_map' is missing (expected an object)");
      for (const auto& [name, file] : j["weight_map"].items()) {
        if (!file.is_string())
          throw Error(index.string() + ": field 'weight_map." + name + "' is not a file name");
        where_[name] = open_file((d / file.get<std::string>()).string());
      }
      return;
    }
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(d))
      if (e.path().extension() == ".safetensors") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    if (files.empty())
      throw Error(dir +
                  ": no model.safetensors, model.safetensors.index.json or *.safetensors "
                  "(PyTorch .bin checkpoints are not read: save the model with safetensors)");
    for (const std::string& f : files) {
      const SafetensorsFile* file = open_file(f);
      for (const auto& [name, t] : file->tensors()) where_.emplace(name, file);
    }
  }

  std::string kind() const override { return "safetensors"; }
  const std::string& path() const override { return dir_; }
  const models::LlamaConfig& config() const override { return config_; }

  SourceInfo info() const override {
    SourceInfo s;
    const fs::path d(dir_);
    for (const char* f : {"tokenizer.model", "tokenizer.json", "tokenizer_config.json"})
      if (fs::exists(d / f)) s.tokenizer_files.push_back((d / f).string());
    if (fs::exists(d / "tokenizer_config.json")) {
      const json tc = read_json(d / "tokenizer_config.json");
      if (tc.contains("chat_template")) {
        const json& t = tc["chat_template"];
        if (t.is_string()) s.chat_template = t;
        // A list of named templates: the default one, else the first.
        if (t.is_array())
          for (const json& e : t)
            if (e.is_object() && e.contains("template") && e["template"].is_string() &&
                (s.chat_template.empty() || e.value("name", "") == "default"))
              s.chat_template = e["template"];
      }
    }
    const json gen = fs::exists(d / "generation_config.json")
                         ? read_json(d / "generation_config.json")
                         : json::object();
    for (const json* j : {&config_json_, &gen}) {
      if (s.bos_token_id < 0) s.bos_token_id = token_id(*j, "bos_token_id");
      if (s.eos_token_id < 0) s.eos_token_id = token_id(*j, "eos_token_id");
    }
    return s;
  }

  bool has(const std::string& name) const override { return where_.count(name) != 0; }

  std::vector<int64_t> shape(const std::string& name) const override { return tensor(name).shape; }

  std::string describe(const std::string& name) const override {
    auto it = where_.find(name);
    return "file '" + (it == where_.end() ? dir_ : it->second->path()) + "', tensor '" + name + "'";
  }

 protected:
  void read_stored_rows(const std::string& name, int64_t row0, int64_t n,
                        float* dst) const override {
    const StTensor& t = tensor(name);
    const size_t cols = static_cast<size_t>(t.shape.back());
    where_.at(name)->read(name, t, static_cast<size_t>(row0) * cols, static_cast<size_t>(n) * cols,
                          dst);
  }

 private:
  const SafetensorsFile* open_file(const std::string& path) {
    auto& slot = files_[path];
    if (!slot) slot = std::make_unique<SafetensorsFile>(path);
    return slot.get();
  }

  // The tensor, present and of a dtype the reader converts; else an error naming it.
  const StTensor& tensor(const std::string& name) const {
    auto it = where_.find(name);
    if (it == where_.end())
      throw Error(
          dir_ + ": tensor '" + name + "' is missing from the checkpoint" +
          (name == "lm_head.weight" ? " (config.json says tie_word_embeddings is false)" : ""));
    const StTensor* t = it->second->find(name);
    if (!t)
      throw Error(describe(name) + " is listed in model.safetensors.index.json but absent from " +
                  "that file");
    if (SafetensorsFile::element_bytes(t->dtype) == 0)
      throw Error(describe(name) + " has dtype " + t->dtype + " (expected F32, F16 or BF16)");
    return *t;
  }

  std::string dir_;
  json config_json_;
  models::LlamaConfig config_;
  std::map<std::string, std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const SafetensorsFile*> where_;  // tensor name -> its file
};

}  // namespace

std::unique_ptr<WeightSource> open_hf_directory(const std::string& dir) {
  return std::make_unique<HfSource>(dir);
}

}  // namespace mlcc::convert
