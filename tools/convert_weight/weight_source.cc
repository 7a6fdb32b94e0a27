// The parameter plan of weight conversion (which Hugging Face tensors make which library
// parameter, and what each becomes under a quantization) and the row reading shared by
// every checkpoint reader (tools/convert_weight/weight_source.h).
#include "tools/convert_weight/weight_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "models/llama.h"
#include "models/q4_quantize.h"
#include "runtime/error.h"
#include "runtime/library.h"

namespace mlcc::convert {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

SourceFile::SourceFile(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw Error("cannot open '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw Error("'" + path + "' is not a regular file");
  }
  size_ = static_cast<uint64_t>(st.st_size);
}

SourceFile::~SourceFile() { ::close(fd_); }

void SourceFile::read(uint64_t offset, size_t n, void* dst, const std::string& what) const {
  auto* out = static_cast<char*>(dst);
  while (n > 0) {
    const ssize_t got = ::pread(fd_, out, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0)
      throw Error("cannot read " + what + " from '" + path_ + "' at byte " +
                  std::to_string(offset) + ": " +
                  (got == 0 ? std::string("the file ends there") : std::strerror(errno)));
    out += got, offset += static_cast<uint64_t>(got), n -= static_cast<size_t>(got);
  }
}

void WeightSource::read_rows(const std::string& hf_name, int64_t row0, int64_t n,
                             float* dst) const {
  const int64_t heads = interleaved_rope_heads(hf_name);
  if (heads == 0) return read_stored_rows(hf_name, row0, n, dst);
  const std::vector<int64_t> s = shape(hf_name);
  const int64_t d = s[0] / heads, half = d / 2, cols = s[1];
  // Row i of a head in rotate_half order is (t, j) = (i / half, i % half); llama2.c and
  // llama.cpp store it at row 2j + t of the head.
  for (int64_t r = row0; r < row0 + n; ++r) {
    const int64_t h = r / d, i = r % d;
    read_stored_rows(hf_name, h * d + 2 * (i % half) + i / half, 1, dst + (r - row0) * cols);
  }
}

std::unique_ptr<WeightSource> open_source(const std::string& path) {
  namespace fs = std::filesystem;
  if (fs::is_directory(path)) return open_hf_directory(path);
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error("cannot open '" + path +
                "' (expected a Hugging Face model directory, a GGUF file or a llama2.c "
                "checkpoint)");
  char magic[4] = {};
  in.read(magic, 4);
  if (in.gcount() == 4 && std::memcmp(magic, "GGUF", 4) == 0) return open_gguf(path);
  return open_llama2c(path);
}

size_t OutputTensor::nbytes() const {
  size_t n = dtype_bytes(dtype, "output tensor '" + name + "'");
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

std::vector<ParamPlan> plan_params(const models::LlamaConfig& c, const std::string& quantization) {
  const bool q4 = kernels::Quantization::parse(quantization).quantized();
  const int64_t h = c.hidden_size, f = c.intermediate_size, v = c.vocab_size;
  const int64_t q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim;
  std::vector<ParamPlan> plan;
  // Linear and embedding weights are quantized (passes/graph/quantize.cc), norms are not.
  auto add = [&](std::string name, std::vector<std::string> parts, std::vector<int64_t> shape) {
    const bool matrix = shape.size() == 2;
    plan.push_back({std::move(name), std::move(parts), std::move(shape), q4 && matrix});
  };
  add("model.embed_tokens.weight", {"model.embed_tokens.weight"}, {v, h});
  for (int64_t l = 0; l < c.num_layers; ++l) {
    auto hf = [&](const char* suffix) { return models::layer_param_name(l, suffix); };
    add(hf("input_layernorm.weight"), {hf("input_layernorm.weight")}, {h});
    add(hf("self_attn.qkv_proj.weight"),
        {hf("self_attn.q_proj.weight"), hf("self_attn.k_proj.weight"),
         hf("self_attn.v_proj.weight")},
        {q + 2 * kv, h});
    add(hf("self_attn.o_proj.weight"), {hf("self_attn.o_proj.weight")}, {h, q});
    add(hf("post_attention_layernorm.weight"), {hf("post_attention_layernorm.weight")}, {h});
    add(hf("mlp.gate_up_proj.weight"), {hf("mlp.gate_proj.weight"), hf("mlp.up_proj.weight")},
        {2 * f, h});
    add(hf("mlp.down_proj.weight"), {hf("mlp.down_proj.weight")}, {h, f});
  }
  add("model.norm.weight", {"model.norm.weight"}, {h});
  if (!c.tie_word_embeddings) add("lm_head.weight", {"lm_head.weight"}, {v, h});
  return plan;
}

std::vector<OutputTensor> output_tensors(const ParamPlan& p, const std::string& quantization) {
  const std::string dt = ir::to_string(kernels::Quantization::parse(quantization).act_dtype());
  if (!p.quantized) return {{p.name, p.shape, dt}};
  const std::string base = p.name.substr(0, p.name.size() - std::strlen(".weight"));
  return {{base + ".q_weight", {p.rows(), models::q4_words(p.cols())}, "u32"},
          {base + ".q_scale", {p.rows(), models::q4_groups(p.cols())}, dt}};
}

void check_shapes(const WeightSource& src, const std::vector<ParamPlan>& plan) {
  for (const ParamPlan& p : plan) {
    // A fused parameter splits its rows evenly except qkv_proj (q, then k and v).
    const models::LlamaConfig& c = src.config();
    for (size_t i = 0; i < p.parts.size(); ++i) {
      std::vector<int64_t> expected = p.shape;
      if (p.parts.size() == 2) expected[0] /= 2;
      if (p.parts.size() == 3) expected[0] = (i == 0 ? c.num_heads : c.num_kv_heads) * c.head_dim;
      const std::vector<int64_t> found = src.shape(p.parts[i]);
      if (found != expected)
        throw Error(src.describe(p.parts[i]) + " has shape " + shape_text(found) +
                    ", but the model config (hidden_size " + std::to_string(c.hidden_size) +
                    ", intermediate_size " + std::to_string(c.intermediate_size) + ", vocab_size " +
                    std::to_string(c.vocab_size) + ", heads " + std::to_string(c.num_heads) + "/" +
                    std::to_string(c.num_kv_heads) + " of " + std::to_string(c.head_dim) +
                    ") needs " + shape_text(expected));
    }
  }
}

void read_param_rows(const WeightSource& src, const ParamPlan& p, int64_t row0, int64_t n,
                     float* dst) {
  const int64_t cols = p.cols();
  int64_t part_start = 0;  // first row of the current part within the parameter
  for (const std::string& part : p.parts) {
    const int64_t part_rows = p.shape.size() == 2 ? src.shape(part)[0] : 1;
    const int64_t lo = std::max(row0, part_start), hi = std::min(row0 + n, part_start + part_rows);
    if (lo < hi) src.read_rows(part, lo - part_start, hi - lo, dst + (lo - row0) * cols);
    part_start += part_rows;
  }
}

}  // namespace mlcc::convert
