// What Tokenizer::open and the tokenizers say when something is wrong: a missing file, a
// file of no known kind, malformed tokenizer.json, llama2.c and GGUF files (naming the
// field), and token ids out of range. Also small GGUF vocabularies written here, so that
// both GGUF kinds are covered without ../shared.
#include <catch2/catch.hpp>
#include <cstring>

#include "runtime/error.h"
#include "runtime/tokenizer.h"
#include "tests/tokenizers/tokenizer_test_util.h"

using namespace mlcc;
using namespace mlcc::test;
using Catch::Contains;
using nlohmann::json;

namespace {

// A GGUF v3 file with no tensors and the given metadata: strings, bools, integers (as
// int32), and arrays of strings, integers (int32) or floats (f32).
std::string gguf_bytes(const std::vector<std::pair<std::string, json>>& kvs) {
  std::string out = "GGUF";
  auto put = [&](auto v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); };
  auto put_str = [&](const std::string& s) {
    put(static_cast<uint64_t>(s.size()));
    out += s;
  };
  auto put_value = [&](const json& v, bool with_type) {
    uint32_t type = v.is_string() ? 8 : v.is_boolean() ? 7 : v.is_number_float() ? 6 : 5;
    if (with_type) put(type);
    if (type == 8)
      put_str(v.get<std::string>());
    else if (type == 7)
      put(static_cast<uint8_t>(v.get<bool>()));
    else if (type == 6)
      put(v.get<float>());
    else
      put(v.get<int32_t>());
  };
  put(uint32_t{3});
  put(uint64_t{0});
  put(static_cast<uint64_t>(kvs.size()));
  for (const auto& [key, value] : kvs) {
    put_str(key);
    if (value.is_array()) {
      put(uint32_t{9});
      put(static_cast<uint32_t>(value[0].is_string() ? 8 : value[0].is_number_float() ? 6 : 5));
      put(static_cast<uint64_t>(value.size()));
      for (const json& v : value) put_value(v, false);
    } else {
      put_value(value, true);
    }
  }
  return out;
}

// A SentencePiece-style vocabulary: <unk> <s> </s>, the byte tokens, then a few pieces.
std::vector<std::pair<std::string, json>> spm_vocab() {
  json tokens = {"<unk>", "<s>", "</s>"}, scores = {0.0, 0.0, 0.0}, types = {2, 3, 3};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    tokens.push_back(name);
    scores.push_back(0.0);
    types.push_back(6);
  }
  const char* pieces[] = {"\xe2\x96\x81", "a", "b", "ab",
                          "\xe2\x96\x81"
                          "ab"};  // 259..263
  for (int i = 0; i < 5; ++i) {
    tokens.push_back(pieces[i]);
    scores.push_back(-1.0 * i - 0.5);
    types.push_back(1);
  }
  return {{"tokenizer.ggml.model", "llama"},  {"tokenizer.ggml.tokens", tokens},
          {"tokenizer.ggml.scores", scores},  {"tokenizer.ggml.token_type", types},
          {"tokenizer.ggml.bos_token_id", 1}, {"tokenizer.ggml.eos_token_id", 2}};
}

}  // namespace

TEST_CASE("small GGUF vocabularies of both kinds encode and decode", "[tokenizer]") {
  TempDir dir("mlcc-tok-gguf");
  dir.write("spm.gguf", gguf_bytes(spm_vocab()));
  auto spm = Tokenizer::open((dir / "spm.gguf"));
  CHECK(spm->kind() == "gguf-llama");
  CHECK(spm->vocab_size() == 264);
  // "▁ab" wins over "▁" + "ab"; "c" is no piece, so it falls back to its byte (0x63 + 3).
  CHECK(spm->encode("ab abc", true) == std::vector<int32_t>{1, 263, 263, 0x63 + 3});
  CHECK(spm->decode(spm->encode("ab abc", true)) == "ab abc");

  json tokens = json::array(), types = json::array();
  for (int b = 0; b < 256; ++b) {
    tokens.push_back(tokenizers::byte_level_encode(std::string(1, static_cast<char>(b))));
    types.push_back(1);
  }
  tokens.push_back("he");
  tokens.push_back("<|eot_id|>");
  types.push_back(1);
  types.push_back(3);
  dir.write("bpe.gguf", gguf_bytes({{"tokenizer.ggml.model", "gpt2"},
                                    {"tokenizer.ggml.pre", "qwen2"},
                                    {"tokenizer.ggml.tokens", tokens},
                                    {"tokenizer.ggml.token_type", types},
                                    {"tokenizer.ggml.merges", json{"h e"}},
                                    {"tokenizer.ggml.eos_token_id", 257},
                                    {"tokenizer.ggml.add_bos_token", false}}));
  auto bpe = Tokenizer::open((dir / "bpe.gguf"));
  CHECK(bpe->kind() == "gguf-gpt2");
  CHECK(bpe->stop_ids() == std::vector<int32_t>{257});
  CHECK_FALSE(bpe->adds_bos());
  // Qwen2's regex takes digits one at a time.
  CHECK(bpe->encode("he 12<|eot_id|>", true) == std::vector<int32_t>{256, ' ', '1', '2', 257});
  CHECK(bpe->decode({256, ' ', '1', 257}) == "he 1");

  // Metadata that is missing, of the wrong type or of an unknown kind is named.
  auto broken = [&](std::vector<std::pair<std::string, json>> kvs) {
    dir.write("broken.gguf", gguf_bytes(kvs));
    return (dir / "broken.gguf");
  };
  CHECK_THROWS_WITH(Tokenizer::open(broken({{"general.architecture", "llama"}})),
                    Contains("tokenizer.ggml.model"));
  CHECK_THROWS_WITH(Tokenizer::open(broken({{"tokenizer.ggml.model", "bert"}})),
                    Contains("tokenizer.ggml.model is 'bert'"));
  CHECK_THROWS_WITH(Tokenizer::open(broken({{"tokenizer.ggml.model", "gpt2"},
                                            {"tokenizer.ggml.pre", "deepseek-llm"},
                                            {"tokenizer.ggml.tokens", tokens}})),
                    Contains("tokenizer.ggml.pre is 'deepseek-llm'"));
  CHECK_THROWS_WITH(Tokenizer::open(broken({{"tokenizer.ggml.model", "gpt2"},
                                            {"tokenizer.ggml.tokens", tokens},
                                            {"tokenizer.ggml.merges", json{"x y"}}})),
                    Contains("tokenizer.ggml.merges[0]"));
  CHECK_THROWS_WITH(Tokenizer::open(broken({{"tokenizer.ggml.model", "llama"},
                                            {"tokenizer.ggml.tokens", json{1, 2}}})),
                    Contains("tokenizer.ggml.tokens"));
}

TEST_CASE("Tokenizer::open names a missing file or one of no known kind", "[tokenizer]") {
  TempDir dir("mlcc-tok-errors");
  CHECK_THROWS_AS(Tokenizer::open((dir / "nope.model")), Error);
  CHECK_THROWS_WITH(Tokenizer::open((dir / "nope.model")),
                    Contains("nope.model") && Contains("does not exist"));
  CHECK_THROWS_WITH(
      Tokenizer::open((dir / "")),
      Contains("none of tokenizer.json, tokenizer.model, tokenizer.gguf, tokenizer.bin"));

  dir.write("notes.txt", "hello, this is not a tokenizer\n");
  CHECK_THROWS_WITH(Tokenizer::open((dir / "notes.txt")),
                    Contains("notes.txt") && Contains("no known kind"));
  dir.write("tokenizer.model", "hello, this is not a tokenizer\n");
  CHECK_THROWS_WITH(Tokenizer::open((dir / "tokenizer.model")),
                    Contains("is not a SentencePiece model"));
  dir.write("fake.gguf", "GGUF but nothing after");
  CHECK_THROWS_WITH(Tokenizer::open((dir / "fake.gguf")), Contains("fake.gguf"));

  // llama2.c files: an absurd header, a token running past the end of the file.
  dir.write("tokenizer.bin", "hello, this is not a tokenizer\n");
  CHECK_THROWS_WITH(Tokenizer::open((dir / "tokenizer.bin")), Contains("max_token_length"));
  std::string bin(4, '\0');
  int32_t max_len = 8, len = 20;
  float score = 0;
  std::memcpy(bin.data(), &max_len, 4);
  bin.append(reinterpret_cast<const char*>(&score), 4)
      .append(reinterpret_cast<const char*>(&len), 4);
  bin += "abc";
  dir.write("tokenizer.bin", bin);
  CHECK_THROWS_WITH(Tokenizer::open((dir / "tokenizer.bin")),
                    Contains("token 0") && Contains("length 20"));
}

TEST_CASE("a malformed tokenizer.json is refused naming the field", "[tokenizer]") {
  TempDir dir("mlcc-tok-json");
  auto open_with = [&](const json& doc) {
    dir.write("tokenizer.json", doc.dump());
    return Tokenizer::open((dir / "tokenizer.json"));
  };
  dir.write("tokenizer.json", "{\"model\": ");
  CHECK_THROWS_WITH(Tokenizer::open((dir / "tokenizer.json")), Contains("not valid JSON"));
  CHECK_THROWS_WITH(open_with({{"version", "1.0"}}), Contains(": model is missing"));

  json doc = gpt2_style_json();
  auto with = [&](const json::json_pointer& at, const json& value) {
    json d = doc;
    d[at] = value;
    return d;
  };
  CHECK_THROWS_WITH(open_with(with("/model/type"_json_pointer, "WordPiece")),
                    Contains("model.type is \"WordPiece\""));
  CHECK_THROWS_WITH(open_with(with("/model/vocab"_json_pointer, json::array())),
                    Contains("model.vocab must be an object"));
  CHECK_THROWS_WITH(open_with(with("/model/vocab/he"_json_pointer, "one")),
                    Contains("model.vocab[\"he\"]"));
  CHECK_THROWS_WITH(open_with(with("/model/merges/1"_json_pointer, "x y")),
                    Contains("model.merges[1]"));
  CHECK_THROWS_WITH(open_with(with("/model/merges/1"_json_pointer, "a b c")),
                    Contains("model.merges[1]"));
  CHECK_THROWS_WITH(open_with(with("/added_tokens/0/id"_json_pointer, "x")),
                    Contains("added_tokens[0].id"));
  CHECK_THROWS_WITH(open_with(with("/pre_tokenizer"_json_pointer, {{"type", "BertPreTokenizer"}})),
                    Contains("pre_tokenizer.type is \"BertPreTokenizer\""));
  CHECK_THROWS_WITH(
      open_with(
          with("/pre_tokenizer"_json_pointer,
               {{"type", "Sequence"},
                {"pretokenizers", {{{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}}}}})),
      Contains("pre_tokenizer.pretokenizers[0].pattern.Regex"));
  CHECK_THROWS_WITH(open_with(with("/normalizer"_json_pointer, {{"type", "Lowercase"}})),
                    Contains("normalizer.type is \"Lowercase\""));
}

TEST_CASE("token ids out of range are refused by every kind", "[tokenizer]") {
  TempDir dir("mlcc-tok-ids");
  dir.write("tokenizer.json", gpt2_style_json().dump());
  std::vector<std::string> files = {(dir / "tokenizer.json")};
  if (have_shared()) {
    files.push_back(shared_dir() + "/tokenizers/llama2/tokenizer.model");
    files.push_back(shared_dir() + "/tokenizers/llama2/tokenizer.bin");
    files.push_back(shared_dir() + "/tokenizers/vocab-tests/ggml-vocab-llama-spm.gguf");
  }
  for (const std::string& f : files) {
    INFO("tokenizer: " << f);
    auto tok = Tokenizer::open(f);
    int32_t n = tok->vocab_size();
    CHECK_THROWS_WITH(tok->token_bytes(n),
                      Contains("token id " + std::to_string(n) + " is out of range") &&
                          Contains(std::to_string(n) + " tokens"));
    CHECK_THROWS_WITH(tok->token_piece(-1), Contains("token id -1 is out of range"));
    CHECK_THROWS_WITH(tok->decode({5, n + 7}), Contains("out of range"));
    CHECK_NOTHROW(tok->token_piece(n - 1));
  }
}
