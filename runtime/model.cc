// Loading a model library onto a device and running its functions: inputs and scalars
// are matched to the manifest's lists by name, so the library decides what it takes and
// the runtime only has to know how to supply each name.
#include "runtime/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ir/half.h"
#include "runtime/error.h"

namespace mlcc {
namespace {

// A tensor the runtime can hand to a function input of the same name.
struct Supplied {
  std::string name;
  void* ptr;
  std::string dtype;
  int64_t elements;  // how many the buffer holds
};

using Scalars = std::vector<std::pair<std::string, int64_t>>;

std::string join(const std::vector<std::string>& names, size_t limit = 8) {
  std::string s;
  for (size_t i = 0; i < names.size() && i < limit; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > limit) s += " and " + std::to_string(names.size() - limit) + " more";
  return s.empty() ? "nothing" : s;
}

// The dimensions of `t` with symbols replaced by the scalars of those names; false when a
// symbol has no value.
bool resolve_shape(const TensorInfo& t, const Scalars& scalars, std::vector<int64_t>* dims) {
  dims->clear();
  for (const Dim& d : t.shape) {
    if (!d.is_symbol()) {
      dims->push_back(d.value);
      continue;
    }
    auto it = std::find_if(scalars.begin(), scalars.end(),
                           [&](const auto& s) { return s.first == d.symbol; });
    if (it == scalars.end()) return false;
    dims->push_back(it->second);
  }
  return true;
}

int64_t product(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

// Device data of `dtype` (f32, f16 or bf16), read back to the host as floats.
std::vector<float> to_floats(Device& dev, const void* src, int64_t count, const std::string& dtype,
                             const std::string& what) {
  std::vector<float> out(static_cast<size_t>(count));
  if (dtype == "f32") {
    dev.copy_to_host(out.data(), src, out.size() * 4);
    return out;
  }
  if (dtype != "f16" && dtype != "bf16")
    throw Error(what + " is " + dtype + "; the runtime reads f32, f16 or bf16 here");
  std::vector<uint16_t> raw(out.size());
  dev.copy_to_host(raw.data(), src, raw.size() * 2);
  for (size_t i = 0; i < raw.size(); ++i) {
    if (dtype == "f16") {
      out[i] = half_to_float(raw[i]);
    } else {
      uint32_t bits = uint32_t{raw[i]} << 16;
      std::memcpy(&out[i], &bits, 4);
    }
  }
  return out;
}

std::string shape_text(const ParamInfo& p) {
  std::string s = p.dtype + "[";
  for (size_t i = 0; i < p.shape.size(); ++i) s += (i ? ", " : "") + std::to_string(p.shape[i]);
  return s + "]";
}

}  // namespace

std::unique_ptr<Model> Model::load(const std::string& lib_path, const std::string& device) {
  std::unique_ptr<Model> m(new Model());
  m->lib_ = Library::load(lib_path);
  const Manifest& man = m->lib_->manifest();
  const std::string& path = m->lib_->path();
  m->vm_ = std::make_unique<VirtualMachine>(man, path);
  m->device_ = open_device(device.empty() ? man.target_kind : device);
  m->device_->load_kernels(*m->lib_);
  Device& dev = *m->device_;

  for (const ParamInfo& p : man.params) {
    m->params_.emplace_back(dev, p.bytes);
    m->param_ptrs_.push_back(m->params_.back().get());
  }
  m->param_set_.assign(man.params.size(), false);
  for (int64_t bytes : man.storages) {
    m->storages_.emplace_back(dev, static_cast<size_t>(bytes));
    m->storage_ptrs_.push_back(m->storages_.back().get());
  }
  // The page table is as long as the longest one a function declares, so that no kernel
  // reads past it; it must also cover the context window.
  int64_t needed = (man.context_window + man.kv_cache.page_size - 1) / man.kv_cache.page_size;
  int64_t entries = needed;
  for (const auto& [name, f] : man.functions)
    for (const TensorInfo& in : f.inputs) {
      std::vector<int64_t> dims;
      if (in.name != "page_table" || !resolve_shape(in, {}, &dims)) continue;
      if (product(dims) < needed)
        throw Error("library '" + path + "': function '" + name + "' takes a page_table of " +
                    std::to_string(product(dims)) + " entries, but a context window of " +
                    std::to_string(man.context_window) + " in pages of " +
                    std::to_string(man.kv_cache.page_size) + " needs " + std::to_string(needed));
      entries = std::max(entries, product(dims));
    }
  m->kv_ = std::make_unique<KVCache>(dev, man.kv_cache, man.context_window, entries);
  m->tokens_buf_ = DeviceBuffer(dev, static_cast<size_t>(man.prefill_chunk_size) * 4);
  m->temperature_buf_ = DeviceBuffer(dev, 4);
  if (man.model.is_object() && man.model.contains("vocab_size") &&
      man.model["vocab_size"].is_number_integer())
    m->vocab_size_ = man.model["vocab_size"].get<int64_t>();
  return m;
}

Model::~Model() = default;

void Model::set_param(const std::string& name, const void* host, size_t bytes) {
  int64_t i = manifest().find_param(name);
  if (i < 0)
    throw Error("library '" + lib_->path() + "' has no parameter '" + name + "' (it has " +
                std::to_string(manifest().params.size()) + " parameters)");
  const ParamInfo& p = manifest().params[i];
  if (bytes != p.bytes)
    throw Error("parameter '" + name + "' is " + shape_text(p) + ", " + std::to_string(p.bytes) +
                " bytes, but " + std::to_string(bytes) + " bytes were given");
  device_->copy_to_device(param_ptrs_[i], host, bytes);
  param_set_[i] = true;
}

void Model::set_params(const std::map<std::string, std::vector<uint8_t>>& host) {
  for (const auto& [name, data] : host) set_param(name, data.data(), data.size());
}

void Model::set_params(const std::function<void(const ParamInfo&, void* dst)>& fill) {
  std::vector<uint8_t> staging;
  for (const ParamInfo& p : manifest().params) {
    staging.resize(p.bytes);
    fill(p, staging.data());
    set_param(p.name, staging.data(), p.bytes);
  }
}

std::vector<std::string> Model::missing_params() const {
  std::vector<std::string> missing;
  for (size_t i = 0; i < param_set_.size(); ++i)
    if (!param_set_[i]) missing.push_back(manifest().params[i].name);
  return missing;
}

void Model::require_params() const {
  std::vector<std::string> missing = missing_params();
  if (!missing.empty())
    throw Error("library '" + lib_->path() + "': " + std::to_string(missing.size()) + " of " +
                std::to_string(param_set_.size()) + " parameters are not set (" + join(missing) +
                "); call set_param for each before running the model");
}

const FunctionInfo& Model::function(const std::string& name) const {
  const FunctionInfo* f = manifest().find_function(name);
  if (f == nullptr) {
    std::vector<std::string> names;
    for (const auto& [n, fn] : manifest().functions) names.push_back(n);
    throw Error("library '" + lib_->path() + "' has no function '" + name + "' (it has " +
                join(names, 16) + ")");
  }
  return *f;
}

void Model::check_tokens(const std::vector<int32_t>& tokens, const char* what) const {
  if (tokens.empty()) throw Error(std::string(what) + ": no tokens given");
  if (vocab_size_ <= 0) return;
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= vocab_size_)
      throw Error(std::string(what) + ": token " + std::to_string(i) + " is " +
                  std::to_string(tokens[i]) + ", outside the vocabulary [0, " +
                  std::to_string(vocab_size_) + ")");
}

std::vector<void*> Model::run(const FunctionInfo& f, const Named& inputs,
                              const NamedScalars& scalars, bool repeated) {
  require_params();
  std::string where = "library '" + lib_->path() + "': function '" + f.name + "' ";
  // What the runtime can supply for an input name, with its dtype and size.
  std::vector<Supplied> supplied;
  for (const auto& [name, ptr] : inputs) {
    if (name == "tokens")
      supplied.push_back({name, ptr, "i32", manifest().prefill_chunk_size});
    else if (name == "page_table")
      supplied.push_back({name, ptr, "i32", static_cast<int64_t>(kv_->host_page_table().size())});
    else if (name == "logits")
      supplied.push_back({name, ptr, logits_dtype_, logits_count_});
    else if (name == "temperature")
      supplied.push_back({name, ptr, "f32", 1});
    else
      MLCC_CHECK(false, "no description of input " + name);
  }
  std::vector<void*> in;
  for (const TensorInfo& t : f.inputs) {
    auto it = std::find_if(supplied.begin(), supplied.end(),
                           [&](const Supplied& s) { return s.name == t.name; });
    if (it == supplied.end()) {
      std::vector<std::string> names;
      for (const Supplied& s : supplied) names.push_back(s.name);
      throw Error(where + "takes the input '" + t.name + "', which the runtime does not supply " +
                  "to it (it supplies " + join(names) + ")");
    }
    if (t.dtype != it->dtype)
      throw Error(where + "takes '" + t.name + "' as " + t.dtype + ", but the runtime has it as " +
                  it->dtype);
    std::vector<int64_t> dims;
    if (resolve_shape(t, scalars, &dims) && product(dims) > it->elements)
      throw Error(where + "takes '" + t.name + "' of " + std::to_string(product(dims)) +
                  " elements, but the runtime's buffer holds " + std::to_string(it->elements));
    in.push_back(it->ptr);
  }
  std::vector<int64_t> sc;
  for (const std::string& name : f.scalars) {
    auto it = std::find_if(scalars.begin(), scalars.end(),
                           [&](const auto& s) { return s.first == name; });
    if (it == scalars.end()) {
      std::vector<std::string> names;
      for (const auto& s : scalars) names.push_back(s.first);
      throw Error(where + "takes the scalar '" + name + "', which the runtime does not supply " +
                  "to it (it supplies " + join(names) + ")");
    }
    sc.push_back(it->second);
  }
  VMEnv env{device_.get(), param_ptrs_, kv_->layers(), storage_ptrs_, kernel_bytes_};
  if (!repeated) return vm_->run(f, env, in, sc);
  device_->begin_graph();
  std::vector<void*> out;
  try {
    out = vm_->run(f, env, in, sc);
  } catch (...) {
    try {
      device_->end_graph();
    } catch (const Error&) {
    }
    throw;
  }
  device_->end_graph();
  return out;
}

std::vector<float> Model::step(const FunctionInfo& f, int64_t seq_len, int64_t total,
                               bool want_logits, bool repeated) {
  NamedScalars scalars = {{"seq_len", seq_len}, {"total_seq_len", total}};
  std::vector<void*> out =
      run(f, {{"tokens", tokens_buf_.get()}, {"page_table", kv_->page_table()}}, scalars, repeated);
  if (!want_logits) return {};
  std::string where = "library '" + lib_->path() + "': function '" + f.name + "'";
  if (out.empty()) throw Error(where + " has no outputs; expected the logits");
  size_t i = 0;
  for (size_t j = 0; j < f.outputs.size(); ++j)
    if (f.outputs[j].name == "logits") i = j;
  const TensorInfo& t = f.outputs[i];
  std::vector<int64_t> dims;
  MLCC_CHECK(resolve_shape(t, scalars, &dims), "output shapes use only the function's scalars");
  // Logits of every position ([seq_len, vocab]) or of the last one only ([1, vocab]).
  int64_t rows = dims.size() >= 2 ? dims[0] : 1;
  int64_t count = rows > 0 ? product(dims) / rows : 0;
  size_t elem = dtype_bytes(t.dtype, where + " output '" + t.name + "'");
  size_t bytes = static_cast<size_t>(count) * elem;
  if (logits_buf_.bytes() < bytes) logits_buf_ = DeviceBuffer(*device_, bytes);
  // A copy of our own: the storage the output lives in is reused by the next function.
  device_->copy_device_to_device(logits_buf_.get(),
                                 static_cast<char*>(out[i]) + (rows - 1) * count * elem, bytes);
  logits_dtype_ = t.dtype;
  logits_count_ = count;
  return to_floats(*device_, logits_buf_.get(), count, t.dtype, where + " output '" + t.name + "'");
}

std::vector<float> Model::prefill(const std::vector<int32_t>& tokens) {
  check_tokens(tokens, "prefill");
  require_params();
  const FunctionInfo& f = function("prefill");
  kv_->check_room(static_cast<int64_t>(tokens.size()));
  logits_count_ = 0;
  const size_t chunk = static_cast<size_t>(manifest().prefill_chunk_size);
  std::vector<float> logits;
  for (size_t begin = 0; begin < tokens.size(); begin += chunk) {
    size_t n = std::min(chunk, tokens.size() - begin);
    device_->copy_to_device(tokens_buf_.get(), tokens.data() + begin, n * sizeof(int32_t));
    int64_t total = kv_->append(static_cast<int64_t>(n));
    logits = step(f, static_cast<int64_t>(n), total, begin + n == tokens.size());
  }
  return logits;
}

std::vector<float> Model::decode(int32_t token) {
  check_tokens({token}, "decode");
  require_params();
  const FunctionInfo& f = function("decode");
  kv_->check_room(1);
  logits_count_ = 0;
  device_->copy_to_device(tokens_buf_.get(), &token, sizeof(int32_t));
  int64_t total = kv_->append(1);
  return step(f, 1, total, true, /*repeated=*/true);
}

int32_t Model::argmax() {
  const FunctionInfo& f = function("argmax");
  if (logits_count_ == 0)
    throw Error("argmax: there are no logits yet; run prefill or decode first");
  std::vector<void*> out = run(f, {{"logits", logits_buf_.get()}}, {});
  if (out.empty() || f.outputs[0].dtype != "i32")
    throw Error("library '" + lib_->path() + "': function 'argmax' should return an i32 index");
  int32_t index = 0;
  device_->copy_to_host(&index, out[0], sizeof index);
  return index;
}

std::vector<float> Model::softmax(float temperature) {
  const FunctionInfo& f = function("softmax_with_temperature");
  if (logits_count_ == 0)
    throw Error("softmax: there are no logits yet; run prefill or decode first");
  if (!(temperature > 0.0f) || !std::isfinite(temperature))
    throw Error("softmax: temperature must be a positive number, got " +
                std::to_string(temperature) + " (use argmax for greedy decoding)");
  device_->copy_to_device(temperature_buf_.get(), &temperature, sizeof temperature);
  // A scalar temperature travels as its f32 bit pattern, as kernel_abi.h passes floats.
  uint32_t bits = 0;
  std::memcpy(&bits, &temperature, 4);
  NamedScalars scalars = {{"temperature", int64_t{bits}}};
  std::vector<void*> out =
      run(f, {{"logits", logits_buf_.get()}, {"temperature", temperature_buf_.get()}}, scalars);
  std::string where = "library '" + lib_->path() + "': function 'softmax_with_temperature'";
  if (out.empty()) throw Error(where + " has no outputs; expected the probabilities");
  std::vector<int64_t> dims;
  MLCC_CHECK(resolve_shape(f.outputs[0], scalars, &dims), "output shape");
  return to_floats(*device_, out[0], product(dims), f.outputs[0].dtype, where + " output");
}

std::vector<float> Model::embed(const std::vector<int32_t>& tokens) {
  check_tokens(tokens, "embed");
  const FunctionInfo& f = function("embed");
  const size_t chunk = static_cast<size_t>(manifest().prefill_chunk_size);
  std::string where = "library '" + lib_->path() + "': function 'embed'";
  std::vector<float> result;
  for (size_t begin = 0; begin < tokens.size(); begin += chunk) {
    size_t n = std::min(chunk, tokens.size() - begin);
    device_->copy_to_device(tokens_buf_.get(), tokens.data() + begin, n * sizeof(int32_t));
    NamedScalars scalars = {{"seq_len", static_cast<int64_t>(n)}};
    std::vector<void*> out = run(f, {{"tokens", tokens_buf_.get()}}, scalars);
    if (out.empty()) throw Error(where + " has no outputs; expected the embeddings");
    std::vector<int64_t> dims;
    MLCC_CHECK(resolve_shape(f.outputs[0], scalars, &dims), "output shape");
    std::vector<float> part =
        to_floats(*device_, out[0], product(dims), f.outputs[0].dtype, where + " output");
    result.insert(result.end(), part.begin(), part.end());
  }
  return result;
}

void Model::reset() {
  kv_->reset();
  logits_count_ = 0;
}

}  // namespace mlcc
