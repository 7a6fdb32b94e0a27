// Reading Llama-family configurations: Hugging Face config.json (with its defaults and the
// variants we refuse), llama2.c checkpoint headers, and the normalized JSON of the manifest.
#include "models/llama_config.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "runtime/error.h"

namespace mlcc::models {

using nlohmann::json;

namespace {

[[noreturn]] void field_error(const std::string& source, const std::string& field,
                              const std::string& what) {
  throw Error(source + ": field '" + field + "' " + what);
}

std::string json_type(const json& v) { return v.type_name(); }

// Present and not null.
bool has(const json& j, const std::string& key) { return j.contains(key) && !j[key].is_null(); }

int64_t get_int(const json& j, const std::string& key, const std::string& source,
                const std::string& prefix = "") {
  if (!j.contains(key)) field_error(source, prefix + key, "is missing (expected an integer)");
  const json& v = j[key];
  if (!v.is_number_integer())
    field_error(source, prefix + key, "is a " + json_type(v) + " (expected an integer)");
  return v.get<int64_t>();
}

double get_number(const json& j, const std::string& key, const std::string& source,
                  const std::string& prefix = "") {
  if (!j.contains(key)) field_error(source, prefix + key, "is missing (expected a number)");
  const json& v = j[key];
  if (!v.is_number())
    field_error(source, prefix + key, "is a " + json_type(v) + " (expected a number)");
  return v.get<double>();
}

bool get_bool(const json& j, const std::string& key, const std::string& source) {
  if (!j.contains(key)) field_error(source, key, "is missing (expected true or false)");
  const json& v = j[key];
  if (!v.is_boolean())
    field_error(source, key, "is a " + json_type(v) + " (expected true or false)");
  return v.get<bool>();
}

std::string get_string(const json& j, const std::string& key, const std::string& source,
                       const std::string& prefix = "") {
  if (!j.contains(key)) field_error(source, prefix + key, "is missing (expected a string)");
  const json& v = j[key];
  if (!v.is_string())
    field_error(source, prefix + key, "is a " + json_type(v) + " (expected a string)");
  return v.get<std::string>();
}

std::string architecture_of(const json& j, const std::string& source) {
  if (j.contains("architectures")) {
    const json& a = j["architectures"];
    if (!a.is_array())
      field_error(source, "architectures", "is a " + json_type(a) + " (expected a list)");
    for (const json& name : a) {
      if (name == "LlamaForCausalLM") return "llama";
      if (name == "MistralForCausalLM") return "mistral";
    }
  }
  if (j.contains("model_type") && j["model_type"].is_string()) {
    std::string t = j["model_type"].get<std::string>();
    if (t == "llama" || t == "mistral") return t;
  }
  std::string found = j.contains("architectures") ? j["architectures"].dump() : "absent";
  field_error(source, "architectures",
              "is " + found +
                  " (expected a list containing LlamaForCausalLM or "
                  "MistralForCausalLM, or model_type \"llama\" or \"mistral\")");
}

// The rope scaling object: "rope_scaling" (transformers 4) or "rope_parameters"
// (transformers 5, which moves rope_theta into it as well).
void parse_rope_scaling(const json& j, const std::string& field, const std::string& source,
                        kernels::RopeSpec& rope) {
  if (!has(j, field)) return;
  const json& s = j[field];
  const std::string prefix = field + ".";
  if (!s.is_object())
    field_error(source, field, "is a " + json_type(s) + " (expected null or an object)");
  if (has(s, "rope_theta")) rope.theta = get_number(s, "rope_theta", source, prefix);
  if (!has(s, "rope_type") && !has(s, "type")) return;
  std::string key = s.contains("rope_type") ? "rope_type" : "type";
  std::string type = get_string(s, key, source, prefix);
  if (type == "default") return;
  if (type != "llama3")
    field_error(source, prefix + "rope_type",
                "is \"" + type +
                    "\" (expected \"default\" or \"llama3\"; other scalings "
                    "are not supported)");
  rope.scaling = "llama3";
  rope.factor = get_number(s, "factor", source, prefix);
  rope.low_freq_factor = get_number(s, "low_freq_factor", source, prefix);
  rope.high_freq_factor = get_number(s, "high_freq_factor", source, prefix);
  rope.original_max_position = get_int(s, "original_max_position_embeddings", source, prefix);
  if (!(rope.high_freq_factor > rope.low_freq_factor))
    field_error(source, prefix + "high_freq_factor",
                "must be larger than " + prefix + "low_freq_factor");
}

std::vector<char> read_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open " + std::string(what) + " '" + path + "'");
  return std::vector<char>(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

void LlamaConfig::validate(const std::string& source) const {
  auto positive = [&](const char* field, int64_t v) {
    if (v <= 0) field_error(source, field, "is " + std::to_string(v) + " (expected > 0)");
  };
  if (architecture != "llama" && architecture != "mistral")
    field_error(source, "architecture", "is \"" + architecture + "\" (expected llama or mistral)");
  positive("vocab_size", vocab_size);
  positive("hidden_size", hidden_size);
  positive("intermediate_size", intermediate_size);
  if (num_layers < 0)
    field_error(source, "num_hidden_layers",
                "is " + std::to_string(num_layers) + " (expected >= 0)");
  positive("num_attention_heads", num_heads);
  positive("num_key_value_heads", num_kv_heads);
  positive("head_dim", head_dim);
  positive("max_position_embeddings", max_position_embeddings);
  if (num_heads % num_kv_heads != 0)
    field_error(source, "num_key_value_heads",
                "is " + std::to_string(num_kv_heads) +
                    " (expected a divisor of num_attention_heads = " + std::to_string(num_heads) +
                    ")");
  if (head_dim % 2 != 0)
    field_error(source, "head_dim",
                "is " + std::to_string(head_dim) +
                    " (expected an even number: "
                    "rotary embedding rotates pairs)");
  if (rope.head_dim != head_dim) field_error(source, "rope.head_dim", "differs from head_dim");
  if (!(rope.theta > 0)) field_error(source, "rope_theta", "must be positive");
  if (!(rms_norm_eps > 0)) field_error(source, "rms_norm_eps", "must be positive");
  if (sliding_window && *sliding_window <= 0)
    field_error(source, "sliding_window",
                "is " + std::to_string(*sliding_window) + " (expected null or > 0)");
}

LlamaConfig parse_hf_config(const json& j, const std::string& source) {
  if (!j.is_object()) throw Error(source + ": expected a JSON object, found a " + json_type(j));
  LlamaConfig c;
  c.architecture = architecture_of(j, source);
  c.vocab_size = get_int(j, "vocab_size", source);
  c.hidden_size = get_int(j, "hidden_size", source);
  c.intermediate_size = get_int(j, "intermediate_size", source);
  c.num_layers = get_int(j, "num_hidden_layers", source);
  c.num_heads = get_int(j, "num_attention_heads", source);
  if (c.num_heads <= 0)
    field_error(source, "num_attention_heads",
                "is " + std::to_string(c.num_heads) + " (expected > 0)");
  c.num_kv_heads =
      has(j, "num_key_value_heads") ? get_int(j, "num_key_value_heads", source) : c.num_heads;
  if (has(j, "head_dim")) {
    c.head_dim = get_int(j, "head_dim", source);
  } else {
    if (c.hidden_size % c.num_heads != 0)
      field_error(source, "hidden_size",
                  "is " + std::to_string(c.hidden_size) +
                      ", not a multiple of num_attention_heads = " + std::to_string(c.num_heads) +
                      " (give head_dim explicitly)");
    c.head_dim = c.hidden_size / c.num_heads;
  }
  // Hugging Face's defaults where the file may omit a field.
  c.rms_norm_eps = has(j, "rms_norm_eps") ? get_number(j, "rms_norm_eps", source) : 1e-6;
  c.tie_word_embeddings =
      has(j, "tie_word_embeddings") ? get_bool(j, "tie_word_embeddings", source) : false;
  c.max_position_embeddings = has(j, "max_position_embeddings")
                                  ? get_int(j, "max_position_embeddings", source)
                                  : (c.architecture == "mistral" ? 4096 * 32 : 2048);
  c.rope.head_dim = c.head_dim;
  c.rope.theta = has(j, "rope_theta") ? get_number(j, "rope_theta", source) : 10000.0;
  parse_rope_scaling(j, "rope_scaling", source, c.rope);
  parse_rope_scaling(j, "rope_parameters", source, c.rope);
  if (has(j, "hidden_act")) {
    std::string act = get_string(j, "hidden_act", source);
    if (act != "silu") field_error(source, "hidden_act", "is \"" + act + "\" (expected \"silu\")");
  }
  for (const char* bias : {"attention_bias", "mlp_bias"})
    if (has(j, bias) && get_bool(j, bias, source))
      field_error(source, bias, "is true (expected absent or false: biases are not supported)");
  if (has(j, "sliding_window")) c.sliding_window = get_int(j, "sliding_window", source);
  c.validate(source);
  return c;
}

LlamaConfig read_hf_config(const std::string& path) {
  std::vector<char> text = read_file(path, "model config");
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded())
    throw Error(path + ": not valid JSON (expected a Hugging Face config.json)");
  return parse_hf_config(j, path);
}

// ---- llama2.c ------------------------------------------------------------------------

namespace {

constexpr uint32_t kLlama2cMagic = 0x616b3432;  // "ak42"

int32_t read_i32(const unsigned char* p) {
  int32_t v;
  std::memcpy(&v, p, 4);  // llama2.c writes native (little-endian) ints
  return v;
}

// Bytes of an fp32 checkpoint (legacy or version 1) with this header.
int64_t llama2c_fp32_bytes(const Llama2cHeader& h, int64_t seq_len) {
  const LlamaConfig& c = h.config;
  int64_t d = c.hidden_size, f = c.intermediate_size, l = c.num_layers, v = c.vocab_size;
  int64_t kv = c.num_kv_heads * c.head_dim, q = c.num_heads * c.head_dim;
  int64_t floats = v * d + l * d * 2 + l * d * (q + 2 * kv) + l * q * d + l * f * d * 3 + d;
  if (h.version == 0) floats += seq_len * c.head_dim;  // freq_cis_real and _imag
  if (!c.tie_word_embeddings) floats += v * d;
  return h.header_bytes + floats * 4;
}

}  // namespace

Llama2cHeader parse_llama2c_header(const void* data, size_t size, const std::string& source) {
  const auto* p = static_cast<const unsigned char*>(data);
  Llama2cHeader h;
  const unsigned char* ints = p;
  bool shared = false;
  if (size >= 4 && static_cast<uint32_t>(read_i32(p)) == kLlama2cMagic) {
    if (size < 256)
      throw Error(source + ": llama2.c header of " + std::to_string(size) +
                  " bytes (expected 256 after the ak42 magic)");
    h.version = read_i32(p + 4);
    if (h.version != 1 && h.version != 2)
      field_error(
          source, "version",
          "is " + std::to_string(h.version) + " (expected llama2.c checkpoint version 1 or 2)");
    ints = p + 8;
    shared = p[36] != 0;
    h.header_bytes = 256;
  } else {
    if (size < 28)
      throw Error(source + ": " + std::to_string(size) +
                  " bytes, too short for a llama2.c header (expected 7 int32)");
    h.header_bytes = 28;
  }
  static const char* kFields[] = {"dim",        "hidden_dim", "n_layers", "n_heads",
                                  "n_kv_heads", "vocab_size", "seq_len"};
  int64_t v[7];
  for (int i = 0; i < 7; ++i) v[i] = read_i32(ints + 4 * i);
  if (h.version == 0) {
    shared = v[5] > 0;  // legacy: a negative vocab_size marks an unshared classifier
    v[5] = v[5] < 0 ? -v[5] : v[5];
  }
  for (int i = 0; i < 7; ++i)
    if (v[i] <= 0 && !(i == 2 && v[i] == 0))
      field_error(source, kFields[i],
                  "is " + std::to_string(v[i]) +
                      " (expected a positive size: is this a llama2.c checkpoint?)");
  if (v[0] % v[3] != 0)
    field_error(
        source, "dim",
        "is " + std::to_string(v[0]) + ", not a multiple of n_heads = " + std::to_string(v[3]));
  LlamaConfig& c = h.config;
  c.architecture = "llama";
  c.hidden_size = v[0];
  c.intermediate_size = v[1];
  c.num_layers = v[2];
  c.num_heads = v[3];
  c.num_kv_heads = v[4];
  c.vocab_size = v[5];
  c.max_position_embeddings = v[6];
  c.head_dim = c.hidden_size / c.num_heads;
  c.rms_norm_eps = 1e-5;  // llama2.c's run.c
  c.tie_word_embeddings = shared;
  c.rope.head_dim = c.head_dim;
  c.rope.theta = 10000.0;
  c.validate(source);
  return h;
}

Llama2cHeader read_llama2c_header(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open llama2.c checkpoint '" + path + "'");
  unsigned char buf[256] = {};
  in.read(reinterpret_cast<char*>(buf), sizeof(buf));
  Llama2cHeader h = parse_llama2c_header(buf, static_cast<size_t>(in.gcount()), path);
  if (h.version != 2) {
    auto actual = static_cast<int64_t>(std::filesystem::file_size(path));
    int64_t expected = llama2c_fp32_bytes(h, h.config.max_position_embeddings);
    if (actual != expected)
      throw Error(path + ": " + std::to_string(actual) +
                  " bytes, but a llama2.c fp32 checkpoint "
                  "with this header (dim " +
                  std::to_string(h.config.hidden_size) + ", " +
                  std::to_string(h.config.num_layers) + " layers, vocab " +
                  std::to_string(h.config.vocab_size) + ") has " + std::to_string(expected));
  }
  return h;
}

LlamaConfig load_config(const std::string& path) {
  std::string file = path;
  if (std::filesystem::is_directory(path)) file = (std::filesystem::path(path) / "config.json");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error("cannot open model config '" + file + "'");
  char ch = 0;
  while (in.get(ch) && (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t')) {
  }
  in.close();
  if (ch == '{') return read_hf_config(file);
  return read_llama2c_header(file).config;
}

// ---- normalized JSON ------------------------------------------------------------------

json LlamaConfig::to_json() const {
  json j;
  j["architecture"] = architecture;
  j["vocab_size"] = vocab_size;
  j["hidden_size"] = hidden_size;
  j["intermediate_size"] = intermediate_size;
  j["num_layers"] = num_layers;
  j["num_heads"] = num_heads;
  j["num_kv_heads"] = num_kv_heads;
  j["head_dim"] = head_dim;
  j["rms_norm_eps"] = rms_norm_eps;
  j["tie_word_embeddings"] = tie_word_embeddings;
  j["max_position_embeddings"] = max_position_embeddings;
  j["sliding_window"] = sliding_window ? json(*sliding_window) : json(nullptr);
  j["rope"] = {{"theta", rope.theta},
               {"scaling", rope.scaling},
               {"factor", rope.factor},
               {"low_freq_factor", rope.low_freq_factor},
               {"high_freq_factor", rope.high_freq_factor},
               {"original_max_position", rope.original_max_position}};
  return j;
}

LlamaConfig LlamaConfig::from_json(const json& j, const std::string& source) {
  if (!j.is_object())
    throw Error(source + ": model config is a " + json_type(j) + " (expected an object)");
  LlamaConfig c;
  c.architecture = get_string(j, "architecture", source);
  c.vocab_size = get_int(j, "vocab_size", source);
  c.hidden_size = get_int(j, "hidden_size", source);
  c.intermediate_size = get_int(j, "intermediate_size", source);
  c.num_layers = get_int(j, "num_layers", source);
  c.num_heads = get_int(j, "num_heads", source);
  c.num_kv_heads = get_int(j, "num_kv_heads", source);
  c.head_dim = get_int(j, "head_dim", source);
  c.rms_norm_eps = get_number(j, "rms_norm_eps", source);
  c.tie_word_embeddings = get_bool(j, "tie_word_embeddings", source);
  c.max_position_embeddings = get_int(j, "max_position_embeddings", source);
  if (!j.contains("sliding_window"))
    field_error(source, "sliding_window", "is missing (expected null or an integer)");
  if (!j["sliding_window"].is_null()) c.sliding_window = get_int(j, "sliding_window", source);
  if (!j.contains("rope") || !j["rope"].is_object())
    field_error(source, "rope", "is missing or not an object");
  const json& r = j["rope"];
  c.rope.head_dim = c.head_dim;
  c.rope.theta = get_number(r, "theta", source, "rope.");
  c.rope.scaling = get_string(r, "scaling", source, "rope.");
  if (!c.rope.scaling.empty() && c.rope.scaling != "llama3")
    field_error(source, "rope.scaling",
                "is \"" + c.rope.scaling + "\" (expected \"\" or \"llama3\")");
  c.rope.factor = get_number(r, "factor", source, "rope.");
  c.rope.low_freq_factor = get_number(r, "low_freq_factor", source, "rope.");
  c.rope.high_freq_factor = get_number(r, "high_freq_factor", source, "rope.");
  c.rope.original_max_position = get_int(r, "original_max_position", source, "rope.");
  c.validate(source);
  return c;
}

bool LlamaConfig::operator==(const LlamaConfig& o) const {
  const kernels::RopeSpec &a = rope, &b = o.rope;
  return architecture == o.architecture && vocab_size == o.vocab_size &&
         hidden_size == o.hidden_size && intermediate_size == o.intermediate_size &&
         num_layers == o.num_layers && num_heads == o.num_heads && num_kv_heads == o.num_kv_heads &&
         head_dim == o.head_dim && rms_norm_eps == o.rms_norm_eps &&
         tie_word_embeddings == o.tie_word_embeddings &&
         max_position_embeddings == o.max_position_embeddings &&
         sliding_window == o.sliding_window && a.head_dim == b.head_dim && a.theta == b.theta &&
         a.scaling == b.scaling && a.factor == b.factor && a.low_freq_factor == b.low_freq_factor &&
         a.high_freq_factor == b.high_freq_factor &&
         a.original_max_position == b.original_max_position;
}

}  // namespace mlcc::models
