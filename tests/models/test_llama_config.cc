// LlamaConfig tests: the example configs, Hugging Face defaults and refusals, llama2.c
// headers (synthetic and the real stories260K), and the normalized JSON round trip.
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "models/llama_config.h"
#include "runtime/error.h"

using namespace mlcc;
using namespace mlcc::models;
using nlohmann::json;

namespace {

const std::string kExamples = MLCC_SOURCE_DIR "/examples/";
const std::string kStories = MLCC_SOURCE_DIR "/../shared/models/stories260K/stories260K.bin";

json minimal() {
  return json::parse(R"({"architectures": ["LlamaForCausalLM"], "vocab_size": 256,
      "hidden_size": 64, "intermediate_size": 160, "num_hidden_layers": 2,
      "num_attention_heads": 4, "rms_norm_eps": 1e-6, "max_position_embeddings": 128})");
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("mlcc_test_models_" + name)).string();
}

std::string write_bytes(const std::string& name, const std::vector<int32_t>& ints,
                        size_t pad_to = 0, size_t extra_bytes = 0) {
  std::vector<char> bytes(ints.size() * 4);
  std::memcpy(bytes.data(), ints.data(), bytes.size());
  if (bytes.size() < pad_to) bytes.resize(pad_to, 0);
  bytes.resize(bytes.size() + extra_bytes, 0);
  std::string path = temp_path(name);
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

}  // namespace

TEST_CASE("llama config: Llama-2-7b example", "[models][config]") {
  LlamaConfig c = read_hf_config(kExamples + "llama2.json");
  CHECK(c.architecture == "llama");
  CHECK(c.vocab_size == 32000);
  CHECK(c.hidden_size == 4096);
  CHECK(c.intermediate_size == 11008);
  CHECK(c.num_layers == 32);
  CHECK(c.num_heads == 32);
  CHECK(c.num_kv_heads == 32);  // given explicitly
  CHECK(c.head_dim == 128);
  CHECK(c.rms_norm_eps == 1e-5);
  CHECK(c.max_position_embeddings == 4096);
  CHECK_FALSE(c.tie_word_embeddings);
  CHECK(c.rope.theta == 10000.0);  // absent: the default
  CHECK(c.rope.scaling.empty());
  CHECK(c.rope.head_dim == 128);
  CHECK_FALSE(c.sliding_window);
}

TEST_CASE("llama config: TinyLlama, Llama 3.1 and Mistral examples", "[models][config]") {
  LlamaConfig t = load_config(kExamples + "tinyllama.json");
  CHECK(t.num_layers == 22);
  CHECK(t.hidden_size == 2048);
  CHECK(t.intermediate_size == 5632);
  CHECK(t.num_heads == 32);
  CHECK(t.num_kv_heads == 4);
  CHECK(t.head_dim == 64);
  CHECK(t.vocab_size == 32000);
  CHECK(t.max_position_embeddings == 2048);

  LlamaConfig l3 = load_config(kExamples + "llama3.json");
  CHECK(l3.vocab_size == 128256);
  CHECK(l3.num_kv_heads == 8);
  CHECK(l3.intermediate_size == 14336);
  CHECK(l3.rope.theta == 500000.0);
  CHECK(l3.rope.scaling == "llama3");
  CHECK(l3.rope.factor == 8.0);
  CHECK(l3.rope.low_freq_factor == 1.0);
  CHECK(l3.rope.high_freq_factor == 4.0);
  CHECK(l3.rope.original_max_position == 8192);
  CHECK(l3.max_position_embeddings == 131072);

  LlamaConfig mi = load_config(kExamples + "mistral.json");
  CHECK(mi.architecture == "mistral");
  CHECK(mi.num_kv_heads == 8);
  CHECK(mi.max_position_embeddings == 32768);
  REQUIRE(mi.sliding_window);
  CHECK(*mi.sliding_window == 4096);
}

TEST_CASE("llama config: Hugging Face defaults", "[models][config]") {
  json j = minimal();
  LlamaConfig c = parse_hf_config(j, "config.json");
  CHECK(c.num_kv_heads == 4);  // defaults to num_attention_heads
  CHECK(c.head_dim == 16);     // hidden_size / num_attention_heads
  CHECK(c.rope.theta == 10000.0);
  CHECK_FALSE(c.tie_word_embeddings);

  j["num_key_value_heads"] = nullptr;  // null reads as absent
  j["head_dim"] = 32;
  j["architectures"] = json::array({"Something"});
  j["model_type"] = "llama";  // accepted by model_type
  j["rope_scaling"] = {{"type", "default"}};
  c = parse_hf_config(j, "config.json");
  CHECK(c.num_kv_heads == 4);
  CHECK(c.head_dim == 32);
  CHECK(c.rope.head_dim == 32);
  CHECK(c.rope.scaling.empty());
}

TEST_CASE("llama config: transformers 5's rope_parameters", "[models][config]") {
  json j = minimal();
  j["rope_parameters"] = {{"rope_theta", 500000.0}, {"rope_type", "default"}};
  LlamaConfig c = parse_hf_config(j, "config.json");
  CHECK(c.rope.theta == 500000.0);
  CHECK(c.rope.scaling.empty());
  j["rope_parameters"] = {{"rope_theta", 500000.0},  {"rope_type", "llama3"},
                          {"factor", 8.0},           {"low_freq_factor", 1.0},
                          {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
  c = parse_hf_config(j, "config.json");
  CHECK(c.rope.scaling == "llama3");
  CHECK(c.rope.factor == 8.0);
  j["rope_parameters"]["rope_type"] = "yarn";
  CHECK_THROWS_WITH(parse_hf_config(j, "config.json"),
                    Catch::Contains("field 'rope_parameters.rope_type' is \"yarn\""));
}

TEST_CASE("llama config: refusals name the file and the field", "[models][config]") {
  json j = minimal();
  auto fails = [&](const std::string& text) {
    CHECK_THROWS_WITH(parse_hf_config(j, "my/config.json"),
                      Catch::Contains("my/config.json") && Catch::Contains(text));
  };
  SECTION("architecture") {
    j["architectures"] = json::array({"GPT2LMHeadModel"});
    fails("field 'architectures' is [\"GPT2LMHeadModel\"]");
    fails("LlamaForCausalLM or MistralForCausalLM");
  }
  SECTION("rope scaling type") {
    j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
    fails("field 'rope_scaling.rope_type' is \"linear\"");
  }
  SECTION("llama3 scaling missing a field") {
    j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0}};
    fails("field 'rope_scaling.high_freq_factor' is missing");
  }
  SECTION("activation") {
    j["hidden_act"] = "gelu";
    fails("field 'hidden_act' is \"gelu\" (expected \"silu\")");
  }
  SECTION("biases") {
    j["attention_bias"] = true;
    fails("field 'attention_bias' is true");
    j["attention_bias"] = false;
    j["mlp_bias"] = true;
    fails("field 'mlp_bias' is true");
  }
  SECTION("missing field") {
    j.erase("hidden_size");
    fails("field 'hidden_size' is missing (expected an integer)");
  }
  SECTION("wrong JSON types") {
    j["num_hidden_layers"] = "2";
    fails("field 'num_hidden_layers' is a string (expected an integer)");
    j["num_hidden_layers"] = 2.5;
    fails("field 'num_hidden_layers' is a number (expected an integer)");
    j["num_hidden_layers"] = 2;
    j["tie_word_embeddings"] = 1;
    fails("field 'tie_word_embeddings' is a number (expected true or false)");
    j["tie_word_embeddings"] = true;
    j["sliding_window"] = "4096";
    fails("field 'sliding_window' is a string");
  }
  SECTION("inconsistent heads") {
    j["num_key_value_heads"] = 3;
    fails("field 'num_key_value_heads' is 3 (expected a divisor of num_attention_heads = 4)");
  }
}

TEST_CASE("llama config: normalized JSON round trip", "[models][config]") {
  for (const char* name : {"llama2.json", "llama3.json", "mistral.json", "tinyllama.json"}) {
    LlamaConfig c = load_config(kExamples + name);
    json j = c.to_json();
    LlamaConfig back = LlamaConfig::from_json(json::parse(j.dump()));
    CHECK(back == c);
  }
  json j = load_config(kExamples + "llama3.json").to_json();
  CHECK(j["rope"]["scaling"] == "llama3");
  CHECK(j["sliding_window"].is_null());
  CHECK(j["num_layers"] == 32);
  j.erase("head_dim");
  CHECK_THROWS_WITH(LlamaConfig::from_json(j, "lib.so manifest"),
                    Catch::Contains("lib.so manifest: field 'head_dim' is missing"));
  j = load_config(kExamples + "llama3.json").to_json();
  j["rope"]["scaling"] = "yarn";
  CHECK_THROWS_WITH(LlamaConfig::from_json(j), Catch::Contains("field 'rope.scaling' is \"yarn\""));
}

TEST_CASE("llama config: llama2.c legacy header", "[models][config][llama2c]") {
  // dim 64, hidden 96, 1 layer, 4 heads, 2 kv heads, vocab -100 (unshared), seq 32.
  std::vector<int32_t> h = {64, 96, 1, 4, 2, -100, 32};
  Llama2cHeader hdr = parse_llama2c_header(h.data(), 28, "x.bin");
  CHECK(hdr.version == 0);
  CHECK(hdr.header_bytes == 28);
  const LlamaConfig& c = hdr.config;
  CHECK(c.vocab_size == 100);
  CHECK_FALSE(c.tie_word_embeddings);
  CHECK(c.head_dim == 16);
  CHECK(c.num_kv_heads == 2);
  CHECK(c.intermediate_size == 96);
  CHECK(c.max_position_embeddings == 32);
  CHECK(c.rms_norm_eps == 1e-5);
  CHECK(c.rope.theta == 10000.0);

  // The file size must match the fp32 weights the header implies.
  const int64_t floats =
      100 * 64 + 2 * 64 + 64 * (64 + 2 * 32) + 64 * 64 + 3 * 96 * 64 + 64 + 32 * 16 + 100 * 64;
  std::string good = write_bytes("legacy.bin", h, 0, static_cast<size_t>(floats) * 4);
  CHECK(load_config(good) == c);
  std::string bad = write_bytes("legacy_short.bin", h, 0, static_cast<size_t>(floats) * 4 - 4);
  CHECK_THROWS_WITH(load_config(bad), Catch::Contains("but a llama2.c fp32 checkpoint"));
  std::filesystem::remove(good);
  std::filesystem::remove(bad);

  std::vector<int32_t> zero = {64, 96, 1, 0, 2, 100, 32};
  CHECK_THROWS_WITH(parse_llama2c_header(zero.data(), 28, "z.bin"),
                    Catch::Contains("z.bin: field 'n_heads' is 0"));
  CHECK_THROWS_WITH(parse_llama2c_header(zero.data(), 20, "z.bin"), Catch::Contains("too short"));
}

TEST_CASE("llama config: llama2.c version 1 header", "[models][config][llama2c]") {
  std::vector<int32_t> ints = {0x616b3432, 1, 64, 96, 1, 4, 4, 100, 32};
  std::vector<unsigned char> bytes(256, 0);
  std::memcpy(bytes.data(), ints.data(), ints.size() * 4);
  bytes[36] = 1;  // shared classifier
  Llama2cHeader hdr = parse_llama2c_header(bytes.data(), bytes.size(), "v1.bin");
  CHECK(hdr.version == 1);
  CHECK(hdr.header_bytes == 256);
  CHECK(hdr.config.tie_word_embeddings);
  CHECK(hdr.config.vocab_size == 100);
  CHECK(hdr.config.num_kv_heads == 4);
  bytes[36] = 0;
  CHECK_FALSE(
      parse_llama2c_header(bytes.data(), bytes.size(), "v1.bin").config.tie_word_embeddings);
  ints[1] = 3;
  std::memcpy(bytes.data(), ints.data(), ints.size() * 4);
  CHECK_THROWS_WITH(parse_llama2c_header(bytes.data(), bytes.size(), "v1.bin"),
                    Catch::Contains("field 'version' is 3"));
}

TEST_CASE("llama config: stories260K checkpoint", "[models][config][shared]") {
  if (!std::filesystem::exists(kStories)) {
    WARN("SKIPPED: ../shared not present");
    return;
  }
  LlamaConfig c = load_config(kStories);
  CHECK(c.hidden_size == 64);
  CHECK(c.intermediate_size == 172);
  CHECK(c.num_layers == 5);
  CHECK(c.num_heads == 8);
  CHECK(c.num_kv_heads == 4);
  CHECK(c.head_dim == 8);
  CHECK(c.vocab_size == 512);
  CHECK(c.max_position_embeddings == 512);
  CHECK(c.tie_word_embeddings);
}
