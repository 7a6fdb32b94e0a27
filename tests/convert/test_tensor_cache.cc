// The model directory's files on their own: tensor-cache.json as MLC-LLM lays it out
// (sharding, alignment, md5sum, the legacy ndarray-cache.json name, f32-to-bf16 records),
// its validation, mlcc-chat-config.json, and the convert-weight command line.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "ir/half.h"
#include "runtime/chat_config.h"
#include "runtime/error.h"
#include "runtime/tensor_cache.h"
#include "tests/convert/convert_test_util.h"
#include "tools/commands.h"
#include "tools/convert_weight/converter.h"
#include "tools/convert_weight/md5.h"
#include "tools/convert_weight/tensor_cache_writer.h"

using namespace mlcc;
using Catch::Contains;
using nlohmann::json;
using test::TempDir;
namespace fs = std::filesystem;

namespace {

std::string md5_of(const std::string& s) {
  convert::Md5 m;
  m.update(s.data(), s.size());
  return m.hex_digest();
}

std::string file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("md5 matches RFC 1321's test suite", "[convert][tensor_cache]") {
  CHECK(md5_of("") == "d41d8cd98f00b204e9800998ecf8427e");
  CHECK(md5_of("abc") == "900150983cd24fb0d6963f7d28e17f72");
  CHECK(md5_of("message digest") == "f96b697d7cb7938d525a2f31aaf161d0");
  CHECK(
      md5_of("12345678901234567890123456789012345678901234567890123456789012345678901234567890") ==
      "57edf4a22be3c955ac49da2e2107b67a");
  convert::Md5 pieces;  // fed in odd pieces across block boundaries
  const std::string text(1000, 'a');
  for (size_t i = 0; i < text.size(); i += 37)
    pieces.update(text.data() + i, std::min<size_t>(37, text.size() - i));
  CHECK(pieces.hex_digest() == md5_of(text));
}

TEST_CASE("tensor cache writer: shards, alignment, md5sum and MLC's field names",
          "[convert][tensor_cache]") {
  TempDir tmp;
  convert::TensorCacheWriter w(tmp.path, 1000);
  auto put = [&](const std::string& name, size_t floats) {
    std::vector<float> v(floats, static_cast<float>(floats));
    w.begin(name, {static_cast<int64_t>(floats)}, "f32", floats * 4);
    w.write(v.data(), 8);  // in two pieces, as conversion streams rows
    w.write(reinterpret_cast<const char*>(v.data()) + 8, floats * 4 - 8);
    w.end();
  };
  put("a", 75);   // 300 bytes at 0
  put("b", 75);   // at 320 (aligned to 64)
  put("c", 125);  // 640 + 500 > 1000: a new shard
  put("d", 500);  // 2000 bytes: a shard of its own
  put("e", 3);
  w.finish({{"ParamSize", 5}});

  const TensorCache cache = TensorCache::read(tmp.path);
  REQUIRE(cache.shards.size() == 4);
  CHECK(cache.shards[0].records.size() == 2);
  CHECK(cache.shards[0].records[1].byte_offset == 320);
  CHECK(cache.shards[0].nbytes == 620);
  CHECK(cache.shards[2].records[0].name == "d");
  CHECK(cache.shards[2].nbytes == 2000);
  CHECK(cache.metadata["ParamSize"] == 5);
  for (const TensorShard& s : cache.shards) CHECK(s.md5sum == md5_of(file_text(tmp / s.data_path)));
  const TensorRecord* c = cache.find("c");
  REQUIRE(c != nullptr);
  CHECK(c->dtype == "float32");
  CHECK(c->shape == std::vector<int64_t>{125});

  const json j = json::parse(file_text(tmp / "tensor-cache.json"));
  const json& shard = j["records"][0];
  CHECK(shard["dataPath"] == "params_shard_0.bin");
  CHECK(shard["format"] == "raw-shard");
  CHECK(shard["records"][1]["byteOffset"] == 320);
  CHECK(shard["records"][1]["nbytes"] == 300);
  CHECK(shard["records"][1]["format"] == "raw");

  // Older MLC-LLM releases call the index ndarray-cache.json.
  fs::rename(tmp / "tensor-cache.json", tmp / "ndarray-cache.json");
  CHECK(TensorCache::read(tmp.path).shards.size() == 4);
}

TEST_CASE("tensor cache: malformed indexes name the file and field", "[convert][tensor_cache]") {
  TempDir tmp;
  std::ofstream(tmp / "params_shard_0.bin") << std::string(64, '\0');
  json rec = {{"name", "w"},     {"shape", {4, 2}}, {"dtype", "float32"},
              {"format", "raw"}, {"nbytes", 32},    {"byteOffset", 0}};
  auto write = [&](const json& r) {
    json idx = {{"metadata", json::object()},
                {"records",
                 {{{"dataPath", "params_shard_0.bin"},
                   {"format", "raw-shard"},
                   {"nbytes", 64},
                   {"records", {r}}}}}};
    std::ofstream(tmp / "tensor-cache.json") << idx.dump();
  };
  const std::string file = tmp / "tensor-cache.json";
  write(rec);
  CHECK(TensorCache::read(tmp.path).find("w")->nbytes == 32);
  json r = rec;
  r["byteOffset"] = 40;
  write(r);
  CHECK_THAT(test::error_of([&] { TensorCache::read(tmp.path); }),
             Contains(file) && Contains("records[0].records[0].byteOffset") && Contains("'w'"));
  r = rec;
  r["nbytes"] = 16;
  write(r);
  CHECK_THAT(test::error_of([&] { TensorCache::read(tmp.path); }),
             Contains("nbytes") && Contains("float32[4, 2]") && Contains("32 bytes"));
  r = rec;
  r["dtype"] = "float8";
  write(r);
  CHECK_THAT(test::error_of([&] { TensorCache::read(tmp.path); }), Contains("float8"));
  r = rec;
  r.erase("shape");
  write(r);
  CHECK_THAT(test::error_of([&] { TensorCache::read(tmp.path); }),
             Contains(file) && Contains("records[0].records[0].shape") && Contains("missing"));
  CHECK_THAT(test::error_of([&] { TensorCache::read(tmp / "nowhere"); }),
             Contains("tensor-cache.json"));

  CHECK(cache_dtype_to_manifest("bfloat16") == "bf16");
  CHECK(manifest_dtype_to_cache("u32") == "uint32");
  CHECK_THROWS_AS(manifest_dtype_to_cache("q4"), Error);
}

TEST_CASE("load_params reads f32-to-bf16 records as MLC-LLM's loader does",
          "[convert][tensor_cache]") {
  const models::LlamaConfig c = test::small_llama();
  testing::Weights w = testing::random_llama_weights(c, 41);
  TempDir tmp;
  test::write_hf_model(tmp / "hf", c, w, "F32");
  convert::ConvertOptions o;
  o.source = tmp / "hf";
  o.output = tmp / "out";
  o.quantization = "q0f32";
  convert::convert_weight(o);

  // Move model.norm.weight into a shard of its own, stored as bf16 bits.
  TensorCache cache = TensorCache::read(tmp / "out");
  for (TensorShard& s : cache.shards)
    std::erase_if(s.records, [](const TensorRecord& r) { return r.name == "model.norm.weight"; });
  std::vector<float>& norm = w.at("model.norm.weight");
  std::string bits;
  for (float& x : norm) {
    const uint16_t b = float_to_bf16(x);
    bits.append(reinterpret_cast<const char*>(&b), 2);
    x = bf16_to_float(b);
  }
  std::ofstream(tmp / "out/extra.bin") << bits;
  cache.shards.push_back({"extra.bin", bits.size(), "", {}});
  cache.shards.back().records.push_back(
      {"model.norm.weight", {c.hidden_size}, "float32", "f32-to-bf16", bits.size(), 0});
  std::ofstream(tmp / "out/tensor-cache.json") << cache.to_json().dump();

  size_t last_done = 0, last_total = 1;
  auto model = Model::load(test::compiled_library(c, "q0f32"), "cpu");
  load_params(*model, tmp / "out", [&](size_t done, size_t total) {
    CHECK(done >= last_done);
    last_done = done, last_total = total;
  });
  CHECK(last_done == last_total);
  CHECK(model->missing_params().empty());
  CHECK(test::worst_logit_error(test::compiled_library(c, "q0f32"), tmp / "out", c, w) < 1e-4);
}

TEST_CASE("chat config: round trip, defaults and typed errors", "[convert][chat_config]") {
  TempDir tmp;
  ChatConfig c;
  c.model_config = test::small_llama().to_json();
  c.quantization = "q4f16_1";
  c.context_window_size = 64;
  c.prefill_chunk_size = 16;
  c.tokenizer_files = {"tokenizer.json"};
  c.conv_template = "chatml";
  c.bos_token_id = 1, c.eos_token_id = 2;
  c.write(tmp.path);
  const json j = json::parse(file_text(tmp / kChatConfigFile));
  CHECK(j["temperature"].dump() == "0.7");  // written as people write it
  const ChatConfig r = ChatConfig::read(tmp.path);
  CHECK(r.to_json() == c.to_json());
  CHECK(r.temperature == 0.7f);

  const ChatConfig minimal = ChatConfig::from_json(
      {{"model_config", c.model_config}, {"quantization", "q0f32"}}, "x.json");
  CHECK(minimal.conv_template == "raw");
  CHECK(minimal.top_p == 0.95f);
  CHECK_THAT(test::error_of([&] {
               ChatConfig::from_json({{"quantization", "q0f32"}}, "x.json");
             }),
             Contains("x.json") && Contains("model_config"));
  json bad = c.to_json();
  bad["top_k"] = "forty";
  CHECK_THAT(test::error_of([&] { ChatConfig::from_json(bad, "x.json"); }),
             Contains("x.json: field 'top_k'") && Contains("integer"));
  CHECK_THAT(test::error_of([&] { ChatConfig::read(tmp / "nowhere"); }), Contains(kChatConfigFile));
}

TEST_CASE("convert-weight command line and conv_template guessing", "[convert][cli]") {
  CHECK(convert::guess_conv_template("<|start_header_id|>{{ role }}") == "llama-3");
  CHECK(convert::guess_conv_template("{{ '[INST] ' + content }}") == "llama-2");
  CHECK(convert::guess_conv_template("<|im_start|>user") == "chatml");
  CHECK(convert::guess_conv_template("") == "raw");

  const models::LlamaConfig c = test::small_llama();
  TempDir tmp;
  test::write_hf_model(tmp / "hf", c, testing::random_llama_weights(c, 3), "BF16", 1,
                       "{% if x %}<|start_header_id|>{% endif %}");
  CLI::App app("mlcc");
  tools::Command cmd = tools::add_convert_weight_command(app);
  app.parse("convert-weight " + tmp / "hf" + " --quantization q0f16 -o " + tmp / "dist/tiny" +
                " --context-window 32 --prefill-chunk-size 8 --threads 1",
            false);
  REQUIRE(cmd.app->parsed());
  CHECK(cmd.run() == 0);
  const ChatConfig chat = ChatConfig::read(tmp / "dist/tiny");
  CHECK(chat.quantization == "q0f16");
  CHECK(chat.context_window_size == 32);
  CHECK(chat.prefill_chunk_size == 8);
  CHECK(chat.conv_template == "llama-3");
  CHECK(chat.tokenizer_files ==
        std::vector<std::string>{"tokenizer.json", "tokenizer_config.json"});
  CHECK(chat.model_config == c.to_json());
  CHECK(test::entries(tmp / "dist") == std::vector<std::string>{"tiny"});

  CLI::App app2("mlcc");
  tools::add_convert_weight_command(app2);
  CHECK_THROWS_AS(app2.parse("convert-weight x -o y --quantization q3f16", false), CLI::ParseError);
  CLI::App app3("mlcc");
  tools::Command c3 = tools::add_convert_weight_command(app3);
  app3.parse("convert-weight " + tmp / "hf" + " -o " + tmp / "dist/tiny2" +
                 " --context-window 32 --prefill-chunk-size 64",
             false);
  CHECK_THAT(test::error_of([&] { c3.run(); }), Contains("--prefill-chunk-size"));
}
