// Chat (runtime/chat.h): finding the model directory and library as MLC-LLM does, checking
// that they belong together, loading weights (or random ones for benchmarks), and one
// conversation on top of the engine.
#include "runtime/chat.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <optional>
#include <thread>

#include "ir/half.h"
#include "runtime/conversation.h"
#include "runtime/error.h"
#include "runtime/library.h"
#include "runtime/model.h"
#include "runtime/tensor_cache.h"
#include "runtime/tokenizer.h"

namespace mlcc {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool has_chat_config(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / kChatConfigFile, ec);
}

// NAME, dist/NAME, dist/prebuilt/NAME: the first directory with mlcc-chat-config.json, or
// else the first directory (ChatConfig::read then says what it lacks).
std::string resolve_model_dir(const std::string& name) {
  std::error_code ec;
  if (fs::path(name).filename() == kChatConfigFile && fs::is_regular_file(name, ec))
    return fs::path(name).parent_path().string();
  const std::vector<fs::path> candidates = {name, fs::path("dist") / name,
                                            fs::path("dist") / "prebuilt" / name};
  for (const fs::path& c : candidates)
    if (has_chat_config(c)) return c.string();
  for (const fs::path& c : candidates)
    if (fs::is_directory(c, ec)) return c.string();
  std::string tried;
  for (const fs::path& c : candidates) tried += (tried.empty() ? "" : ", ") + c.string();
  throw Error("model '" + name + "' not found: looked for a directory with " + kChatConfigFile +
              " at " + tried);
}

// The device kinds whose libraries a device name can run, most wanted first.
std::vector<std::string> device_kinds(const std::string& device) {
  if (device == "auto") return {"cuda", "rocm", "vulkan", "cpu"};
  return {device.substr(0, device.find(':'))};
}

// dist/libs/NAME-KIND.so and its MLC-LLM siblings, NAME being the model directory's name.
std::string resolve_model_lib(const std::string& model_dir, const std::string& device) {
  const fs::path dir = fs::path(model_dir).lexically_normal();
  std::string name = (dir.has_filename() ? dir : dir.parent_path()).filename().string();
  if (name.empty() || name == ".") name = fs::absolute(dir).lexically_normal().filename().string();
  std::vector<std::string> tried;
  for (const std::string& kind : device_kinds(device)) {
    const std::string file = name + "-" + kind + ".so";
    for (const fs::path& d : {fs::path("dist") / "libs", fs::path("dist") / "prebuilt" / "lib", dir,
                              dir.parent_path() / "libs"}) {
      const fs::path p = d / file;
      std::error_code ec;
      if (fs::is_regular_file(p, ec)) return p.string();
      tried.push_back(p.string());
    }
  }
  std::string list;
  for (const std::string& t : tried) list += (list.empty() ? "" : ", ") + t;
  throw Error("no model library given and none found for model directory '" + model_dir +
              "' (looked for " + list + "); give the library's path (--model-lib)");
}

// The first field where the model directory's config and the library's differ, as
// "field: A in FILE but B in LIB"; "" when they agree. Nested objects give dotted paths.
std::string first_difference(const json& ours, const json& lib, const std::string& prefix,
                             const std::string& ours_file, const std::string& lib_file) {
  auto text = [](const json& obj, const std::string& key) {
    return obj.contains(key) ? obj[key].dump() : std::string("absent");
  };
  std::vector<std::string> keys;
  for (const auto& [k, v] : ours.items()) keys.push_back(k);
  for (const auto& [k, v] : lib.items())
    if (!ours.contains(k)) keys.push_back(k);
  for (const std::string& k : keys) {
    if (ours.contains(k) && lib.contains(k) && ours[k] == lib[k]) continue;
    if (ours.contains(k) && lib.contains(k) && ours[k].is_object() && lib[k].is_object())
      return first_difference(ours[k], lib[k], prefix + k + ".", ours_file, lib_file);
    return prefix + k + ": " + text(ours, k) + " in " + ours_file + " but " + text(lib, k) +
           " in " + lib_file;
  }
  return "";
}

// Applies `overrides` (fields of mlcc-chat-config.json) to `config`.
ChatConfig apply_overrides(const ChatConfig& config, const json& overrides) {
  if (!overrides.is_object())
    throw Error("chat config overrides: expected a JSON object, got " + overrides.dump());
  json j = config.to_json();
  for (const auto& [key, value] : overrides.items()) {
    if (!j.contains(key)) {
      std::string known;
      for (const auto& [k, v] : j.items()) known += (known.empty() ? "" : ", ") + k;
      throw Error("chat config overrides: unknown field '" + key + "' (fields: " + known + ")");
    }
    j[key] = value;
  }
  return ChatConfig::from_json(j, "chat config overrides");
}

// The tokenizer file among the chat config's tokenizer_files (which also lists the
// Hugging Face configuration files copied beside it).
std::string tokenizer_path(const std::string& dir, const std::vector<std::string>& files) {
  for (const std::string& f : files) {
    const std::string name = fs::path(f).filename().string();
    if (name.ends_with("config.json") || name == "special_tokens_map.json" ||
        name == "added_tokens.json")
      continue;
    return (fs::path(dir) / name).string();
  }
  return dir;
}

// splitmix64: fast, and good enough for weights nobody reads.
uint64_t mix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Fills `bytes` of a parameter's data, the block starting at byte `offset`, from `seed`:
// u32 words (packed q4 weights) uniformly random, norm weights 1, other floats about
// normal with a spread of 0.02.
void fill_random_block(const ParamInfo& p, uint8_t* dst, size_t offset, size_t bytes,
                       uint64_t seed) {
  const bool norm = p.name.ends_with("norm.weight");
  const size_t elem = p.dtype == "f32" || p.dtype == "u32" || p.dtype == "i32" ? 4 : 2;
  uint64_t state = seed;
  for (size_t i = offset; i + elem <= offset + bytes; i += elem) {
    uint64_t r = mix(state);
    if (p.dtype == "u32" || p.dtype == "i32") {
      uint32_t w = static_cast<uint32_t>(r);
      std::memcpy(dst + i, &w, 4);
      continue;
    }
    float v = 1.0f;
    if (!norm) {
      // The sum of four uniforms, centred and scaled to unit variance.
      float sum = static_cast<float>((r & 0xffff) + ((r >> 16) & 0xffff) + ((r >> 32) & 0xffff) +
                                     (r >> 48)) /
                  65536.0f;
      v = (sum - 2.0f) * 1.7320508f * 0.02f;
    }
    if (p.dtype == "f32") {
      std::memcpy(dst + i, &v, 4);
    } else {
      uint16_t h =
          p.dtype == "bf16" ? static_cast<uint16_t>(float_bits(v) >> 16) : float_to_half(v);
      std::memcpy(dst + i, &h, 2);
    }
  }
}

void fill_random(Model& model) {
  const size_t threads = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 16);
  const size_t block = size_t{1} << 22;
  uint64_t param_index = 0;
  model.set_params([&](const ParamInfo& p, void* dst) {
    const uint64_t base = (++param_index) << 32;
    const size_t blocks = (p.bytes + block - 1) / block;
    auto work = [&](size_t first) {
      for (size_t b = first; b < blocks; b += threads)
        fill_random_block(p, static_cast<uint8_t*>(dst), b * block,
                          std::min(block, p.bytes - b * block), base + b);
    };
    std::vector<std::thread> pool;
    for (size_t t = 1; t < std::min(threads, blocks); ++t) pool.emplace_back(work, t);
    work(0);
    for (std::thread& t : pool) t.join();
  });
}

}  // namespace

struct Chat::Impl {
  std::string model_dir, model_lib;
  ChatConfig config;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
  std::optional<Engine> engine;
  Conversation conv = Conversation::make("raw");
  GenerationConfig gen;

  std::vector<int32_t> encode_turn(const std::string& prompt) const {
    if (!tokenizer)
      throw Error(
          "this chat has no tokenizer (it was opened with random weights): text "
          "prompts need a model directory");
    std::vector<int32_t> ids =
        encode_prompt(*tokenizer, conv.prompt(prompt), conv.special_pieces(), conv.add_bos());
    if (ids.empty())
      throw Error("the prompt is empty and the tokenizer has no BOS token to start from");
    return ids;
  }
};

Chat::Chat() : impl_(std::make_unique<Impl>()) {}
Chat::~Chat() = default;

std::unique_ptr<Chat> Chat::open(const ChatOptions& options) {
  std::unique_ptr<Chat> chat(new Chat());
  Impl& c = *chat->impl_;
  const std::string device = options.device.empty() ? "auto" : options.device;

  if (options.random_weights && options.model.empty()) {
    if (options.model_lib.empty())
      throw Error("random weights without a model directory need the model library's path");
  } else {
    if (options.model.empty()) throw Error("no model directory given");
    c.model_dir = resolve_model_dir(options.model);
    c.config = ChatConfig::read(c.model_dir);
  }
  c.model_lib =
      options.model_lib.empty() ? resolve_model_lib(c.model_dir, device) : options.model_lib;
  std::error_code ec;
  if (!fs::is_regular_file(c.model_lib, ec))
    throw Error("model library '" + c.model_lib + "' not found");

  // The manifest first: a library for another model fails before any device memory is
  // taken.
  {
    std::unique_ptr<Library> lib = Library::load(c.model_lib);
    const Manifest& m = lib->manifest();
    if (c.model_dir.empty()) {
      c.config.model_config = m.model;
      c.config.quantization = m.quantization;
    } else {
      const std::string file = (fs::path(c.model_dir) / kChatConfigFile).string();
      std::string diff = first_difference(c.config.model_config, m.model, "", file, c.model_lib);
      if (diff.empty() && c.config.quantization != m.quantization)
        diff = "quantization: " + c.config.quantization + " in " + file + " but " + m.quantization +
               " in " + c.model_lib;
      if (!diff.empty())
        throw Error("the model directory and the library were built for different models: " + diff);
    }
  }
  c.config = apply_overrides(c.config, options.overrides);
  c.conv = Conversation::make(c.config.conv_template);

  c.model = Model::load(c.model_lib, device == "auto" ? "" : device);
  if (options.random_weights)
    fill_random(*c.model);
  else
    load_params(*c.model, c.model_dir, options.load_progress);
  if (!c.model_dir.empty())
    c.tokenizer = Tokenizer::open(tokenizer_path(c.model_dir, c.config.tokenizer_files));
  c.engine.emplace(*c.model, c.tokenizer.get());

  SamplingConfig& s = c.gen.sampling;
  s.temperature = c.config.temperature;
  s.top_p = c.config.top_p;
  s.top_k = c.config.top_k;
  s.repetition_penalty = c.config.repetition_penalty;
  c.gen.max_new_tokens = c.config.max_new_tokens;
  if (c.tokenizer) {
    for (const std::string& piece : c.conv.stop_pieces()) {
      int32_t id = c.tokenizer->piece_to_id(piece);
      if (id < 0 && piece == "</s>") id = c.tokenizer->eos_id();
      if (id >= 0) c.gen.stop_token_ids.push_back(id);
    }
    c.gen.stop_strings = c.conv.stop_strings();
  }
  if (c.config.eos_token_id >= 0) c.gen.stop_token_ids.push_back(c.config.eos_token_id);
  return chat;
}

std::string Chat::generate(const std::string& prompt,
                           const std::function<void(const std::string&)>& on_text) {
  Impl& c = *impl_;
  std::vector<int32_t> ids = c.encode_turn(prompt);
  std::string reply;
  c.engine->generate(ids, c.gen, [&](const std::string& piece) {
    reply += piece;
    if (on_text) on_text(piece);
  });
  c.conv.advance();
  return reply;
}

std::string Chat::benchmark_generate(const std::string& prompt, int64_t generate_length) {
  reset();
  std::vector<int32_t> ids = impl_->encode_turn(prompt);
  std::vector<int32_t> out = benchmark_generate_ids(ids, generate_length);
  impl_->conv.advance();
  return impl_->tokenizer->decode(out);
}

std::vector<int32_t> Chat::benchmark_generate_ids(const std::vector<int32_t>& prompt,
                                                  int64_t generate_length) {
  Impl& c = *impl_;
  reset();
  const int64_t window = c.model->manifest().context_window;
  const int64_t needed = static_cast<int64_t>(prompt.size()) + generate_length - 1;
  if (generate_length < 1)
    throw Error("benchmark: generate_length is " + std::to_string(generate_length) +
                "; expected a number > 0");
  if (needed > window)
    throw Error("benchmark: a prompt of " + std::to_string(prompt.size()) + " tokens and " +
                std::to_string(generate_length) + " new tokens need " + std::to_string(needed) +
                " positions (the last new token needs none), but the context window has " +
                std::to_string(window));
  GenerationConfig g = c.gen;
  g.max_new_tokens = generate_length;
  g.ignore_stops = true;
  return c.engine->generate(prompt, g);
}

void Chat::reset() {
  impl_->model->reset();
  impl_->engine->reset();
  impl_->conv.reset();
}

std::string Chat::stats_text(bool verbose) const {
  const GenerationStats& s = stats();
  char buf[256];
  if (!verbose) {
    std::snprintf(buf, sizeof buf, "prefill: %.1f tok/s, decode: %.1f tok/s",
                  s.prefill_tokens_per_second(), s.decode_tokens_per_second());
  } else {
    std::snprintf(buf, sizeof buf,
                  "prefill: %.1f tok/s (%lld tokens in %.3f s), decode: %.1f tok/s (%lld tokens "
                  "in %.3f s), finished by %s",
                  s.prefill_tokens_per_second(), static_cast<long long>(s.prefill_tokens),
                  s.prefill_seconds, s.decode_tokens_per_second(),
                  static_cast<long long>(s.decode_tokens), s.decode_seconds,
                  s.finish_reason.empty() ? "nothing yet" : s.finish_reason.c_str());
  }
  return buf;
}

const GenerationStats& Chat::stats() const { return impl_->engine->stats(); }
GenerationConfig& Chat::generation_config() { return impl_->gen; }
const ChatConfig& Chat::chat_config() const { return impl_->config; }
Model& Chat::model() { return *impl_->model; }
const Tokenizer* Chat::tokenizer() const { return impl_->tokenizer.get(); }
const std::string& Chat::model_dir() const { return impl_->model_dir; }
const std::string& Chat::model_lib() const { return impl_->model_lib; }

}  // namespace mlcc
