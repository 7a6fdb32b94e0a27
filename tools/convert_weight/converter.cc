// The conversion driver (tools/convert_weight/converter.h): checks everything it can before
// writing (options, every tensor's shape, the tokenizer), then streams each parameter
// through the quantizer into the shards of a temporary directory that becomes the output
// only when all of it is written.
#include "tools/convert_weight/converter.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <mutex>
#include <thread>

#include "ir/half.h"
#include "models/q4_quantize.h"
#include "runtime/conversation.h"
#include "runtime/error.h"
#include "tools/compile_model.h"
#include "tools/convert_weight/tensor_cache_writer.h"
#include "tools/convert_weight/weight_source.h"

namespace mlcc::convert {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Rows are read and quantized this many elements at a time (16 MB of f32): large enough to
// keep the threads busy, small enough that memory does not grow with the model.
constexpr int64_t kChunkElements = int64_t{1} << 22;

// [#####.....] 12/291 tensors, 812.4/3801.2 MB, 10.2 s — on stderr, only for a terminal.
class ProgressBar {
 public:
  ProgressBar(bool enabled, int64_t tensors, size_t bytes)
      : enabled_(enabled && ::isatty(2)), tensors_(tensors), bytes_(bytes), start_(Clock::now()) {}
  void update(int64_t tensors_done, size_t bytes_done, bool force = false) {
    if (!enabled_) return;
    const auto now = Clock::now();
    if (!force && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double frac = bytes_ ? static_cast<double>(bytes_done) / static_cast<double>(bytes_) : 1;
    const int width = 30, filled = static_cast<int>(frac * width);
    std::fprintf(stderr, "\r[%s%s] %lld/%lld tensors, %.1f/%.1f MB, %.1f s ",
                 std::string(static_cast<size_t>(filled), '#').c_str(),
                 std::string(static_cast<size_t>(width - filled), '.').c_str(),
                 static_cast<long long>(tensors_done), static_cast<long long>(tensors_),
                 static_cast<double>(bytes_done) / 1e6, static_cast<double>(bytes_) / 1e6,
                 std::chrono::duration<double>(now - start_).count());
    std::fflush(stderr);
  }
  void finish() {
    if (enabled_) std::fputc('\n', stderr);
  }

 private:
  bool enabled_;
  int64_t tensors_;
  size_t bytes_;
  Clock::time_point start_, last_{};
};

// Runs fn(row_begin, row_end) over [0, rows) split among up to `threads` threads.
template <typename Fn>
void parallel_rows(int64_t rows, int threads, Fn fn) {
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(threads, rows));
  if (parts == 1) return fn(int64_t{0}, rows);
  std::vector<std::thread> pool;
  std::mutex mu;
  std::exception_ptr error;
  for (int64_t t = 0; t < parts; ++t)
    pool.emplace_back([&, t] {
      try {
        fn(rows * t / parts, rows * (t + 1) / parts);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        error = std::current_exception();
      }
    });
  for (std::thread& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

// Converts one planned parameter, a chunk of rows at a time, into the writer.
void write_param(const WeightSource& src, const ParamPlan& p, const std::string& quantization,
                 int threads, TensorCacheWriter& out) {
  const std::vector<OutputTensor> tensors = output_tensors(p, quantization);
  const int64_t rows = p.rows(), cols = p.cols();
  const int64_t chunk = std::max<int64_t>(1, kChunkElements / cols);
  std::vector<float> buf(static_cast<size_t>(std::min(rows, chunk) * cols));
  out.begin(tensors[0].name, tensors[0].shape, tensors[0].dtype, tensors[0].nbytes());
  const bool f16 = tensors.back().dtype == "f16";
  std::vector<uint8_t> scales;  // q_scale follows q_weight once all rows are quantized
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const int64_t n = std::min(chunk, rows - r0);
    read_param_rows(src, p, r0, n, buf.data());
    if (!p.quantized) {
      if (!f16) {
        out.write(buf.data(), static_cast<size_t>(n * cols) * 4);
        continue;
      }
      std::vector<uint16_t> h(static_cast<size_t>(n * cols));
      parallel_rows(n, threads, [&](int64_t a, int64_t b) {
        for (int64_t i = a * cols; i < b * cols; ++i)
          h[static_cast<size_t>(i)] = float_to_half(buf[static_cast<size_t>(i)]);
      });
      out.write(h.data(), h.size() * 2);
      continue;
    }
    const int64_t words = models::q4_words(cols), groups = models::q4_groups(cols);
    std::vector<uint32_t> qw(static_cast<size_t>(n * words));
    std::vector<uint8_t> qs(static_cast<size_t>(n * groups) * (f16 ? 2 : 4));
    parallel_rows(n, threads, [&](int64_t a, int64_t b) {
      const models::Q4Weight q = models::quantize_q4(
          buf.data() + a * cols, b - a, cols, f16 ? ir::DataType::f16() : ir::DataType::f32());
      std::copy(q.qweight.begin(), q.qweight.end(), qw.begin() + a * words);
      if (f16) {
        const std::vector<uint16_t> bits = q.scales_f16();
        std::memcpy(qs.data() + a * groups * 2, bits.data(), bits.size() * 2);
      } else {
        std::memcpy(qs.data() + a * groups * 4, q.scales.data(), q.scales.size() * 4);
      }
    });
    out.write(qw.data(), qw.size() * 4);
    scales.insert(scales.end(), qs.begin(), qs.end());
  }
  out.end();
  if (p.quantized) {
    out.begin(tensors[1].name, tensors[1].shape, tensors[1].dtype, tensors[1].nbytes());
    out.write(scales.data(), scales.size());
    out.end();
  }
}

// The canonical name a tokenizer file gets in the model directory, so that
// Tokenizer::open(dir) finds it.
std::string tokenizer_name(const fs::path& file) {
  const std::string name = file.filename().string(), ext = file.extension().string();
  if (name == "tokenizer_config.json") return name;
  if (ext == ".model") return "tokenizer.model";
  if (ext == ".json") return "tokenizer.json";
  if (ext == ".gguf") return "tokenizer.gguf";
  return "tokenizer.bin";  // llama2.c's format has no extension of its own
}

// (source, name in the model directory) of each tokenizer file to copy.
std::vector<std::pair<fs::path, std::string>> tokenizer_copies(const ConvertOptions& o,
                                                               const SourceInfo& info) {
  std::vector<std::pair<fs::path, std::string>> files;
  if (o.tokenizer.empty()) {
    for (const std::string& f : info.tokenizer_files)
      files.emplace_back(f, fs::path(f).filename().string());
    return files;
  }
  if (!fs::exists(o.tokenizer))
    throw Error("tokenizer file '" + o.tokenizer + "' (--tokenizer) does not exist");
  if (!fs::is_directory(o.tokenizer)) return {{o.tokenizer, tokenizer_name(o.tokenizer)}};
  for (const char* f : {"tokenizer.model", "tokenizer.json", "tokenizer_config.json",
                        "tokenizer.bin", "tokenizer.gguf"})
    if (fs::exists(fs::path(o.tokenizer) / f)) files.emplace_back(fs::path(o.tokenizer) / f, f);
  if (files.empty())
    throw Error("tokenizer directory '" + o.tokenizer +
                "' (--tokenizer) holds none of tokenizer.json, tokenizer.model, "
                "tokenizer.bin, tokenizer.gguf");
  return files;
}

// The output path without a trailing separator.
fs::path output_path(const std::string& output) {
  if (output.empty()) throw Error("no output directory given (-o dist/NAME)");
  fs::path out = fs::path(output).lexically_normal();
  if (out.filename().empty()) out = out.parent_path();
  return out;
}

// Removes the temporary directory unless the conversion got to the end.
struct TempDir {
  fs::path path;
  bool keep = false;
  ~TempDir() {
    std::error_code ec;
    if (!keep && !path.empty()) fs::remove_all(path, ec);
  }
};

}  // namespace

std::string guess_conv_template(const std::string& chat_template) {
  if (chat_template.find("<|start_header_id|>") != std::string::npos) return "llama-3";
  if (chat_template.find("[INST]") != std::string::npos) return "llama-2";
  if (chat_template.find("<|im_start|>") != std::string::npos) return "chatml";
  return "raw";
}

ConvertSummary convert_weight(const ConvertOptions& o) {
  const auto t0 = Clock::now();
  // Everything that can be checked without writing is checked first.
  if (!o.conv_template.empty()) {
    const auto& names = Conversation::names();
    if (std::find(names.begin(), names.end(), o.conv_template) == names.end()) {
      std::string known;
      for (const std::string& n : names) known += (known.empty() ? "" : ", ") + n;
      throw Error("--conv-template '" + o.conv_template + "' is not a known template (" + known +
                  ")");
    }
  }
  const fs::path out = output_path(o.output);
  if (fs::exists(out)) {
    if (!fs::is_directory(out))
      throw Error("output '" + out.string() + "' exists and is not a directory");
    if (!fs::is_empty(out) && !o.force)
      throw Error("output directory '" + out.string() +
                  "' exists and is not empty; pass --force to replace it");
  }
  std::unique_ptr<WeightSource> src = open_source(o.source);
  const models::LlamaConfig& config = src->config();
  CompileOptions copts;
  copts.quantization = o.quantization;
  copts.context_window = o.context_window;
  copts.prefill_chunk_size = o.prefill_chunk_size;
  copts = resolve_options(config, copts);
  const std::vector<ParamPlan> plan = plan_params(config, o.quantization);
  check_shapes(*src, plan);
  const SourceInfo info = src->info();
  const auto copies = tokenizer_copies(o, info);

  TempDir tmp;
  const fs::path parent = out.parent_path().empty() ? fs::path(".") : out.parent_path();
  fs::create_directories(parent);
  tmp.path = parent / ("." + out.filename().string() + ".tmp-" + std::to_string(::getpid()));
  fs::remove_all(tmp.path);
  fs::create_directory(tmp.path);

  ChatConfig chat;
  chat.model_config = config.to_json();
  chat.quantization = o.quantization;
  chat.context_window_size = copts.context_window;
  chat.prefill_chunk_size = copts.prefill_chunk_size;
  chat.conv_template =
      o.conv_template.empty() ? guess_conv_template(info.chat_template) : o.conv_template;
  chat.bos_token_id = info.bos_token_id;
  chat.eos_token_id = info.eos_token_id;
  for (const auto& [from, name] : copies) {
    fs::copy_file(from, tmp.path / name, fs::copy_options::overwrite_existing);
    chat.tokenizer_files.push_back(name);
  }
  if (o.tokenizer.empty() && chat.tokenizer_files.empty())
    chat.tokenizer_files = src->write_embedded_tokenizer(tmp.path.string());
  if (chat.tokenizer_files.empty() && !o.no_tokenizer)
    throw Error(src->path() + " brings no tokenizer (" +
                (src->kind() == "llama2.c" ? std::string("a llama2.c checkpoint never does")
                                           : "no tokenizer.json or tokenizer.model beside it") +
                "): pass --tokenizer FILE, or --no-tokenizer to convert the weights alone");

  // The weights.
  ConvertSummary s;
  size_t total_bytes = 0;
  int64_t total_tensors = 0;
  for (const ParamPlan& p : plan)
    for (const OutputTensor& t : output_tensors(p, o.quantization)) {
      total_bytes += t.nbytes();
      ++total_tensors;
    }
  const int threads = o.threads > 0
                          ? o.threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  ProgressBar bar(o.progress, total_tensors, total_bytes);
  TensorCacheWriter writer(tmp.path.string());
  for (const ParamPlan& p : plan) {
    write_param(*src, p, o.quantization, threads, writer);
    s.num_tensors += static_cast<int64_t>(output_tensors(p, o.quantization).size());
    s.num_elements += p.rows() * p.cols();
    bar.update(s.num_tensors, writer.bytes_written());
  }
  bar.update(s.num_tensors, writer.bytes_written(), true);
  bar.finish();
  s.bytes = writer.bytes_written();
  writer.finish({{"ParamSize", s.num_tensors},
                 {"ParamBytes", s.bytes},
                 {"BitsPerParam", static_cast<double>(s.bytes) * 8.0 /
                                      static_cast<double>(std::max<int64_t>(1, s.num_elements))}});
  chat.write(tmp.path.string());

  // Into place: an existing (empty, or --force) output is replaced only now.
  if (fs::exists(out)) {
    const fs::path old =
        parent / ("." + out.filename().string() + ".old-" + std::to_string(::getpid()));
    fs::rename(out, old);
    try {
      fs::rename(tmp.path, out);
    } catch (...) {
      fs::rename(old, out);  // the user's directory back as it was
      throw;
    }
    fs::remove_all(old);
  } else {
    fs::rename(tmp.path, out);
  }
  tmp.keep = true;
  s.source_kind = src->kind();
  s.num_shards = static_cast<int64_t>(writer.cache().shards.size());
  s.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  s.chat = std::move(chat);
  return s;
}

}  // namespace mlcc::convert
