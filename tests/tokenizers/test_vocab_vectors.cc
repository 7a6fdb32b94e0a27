// llama.cpp's vocabulary test vectors (../shared/tokenizers/vocab-tests) through every
// tokenizer kind that holds those vocabularies: the GGUF files themselves, the Llama 2
// SentencePiece model, and a tokenizer.json written from the Llama 3 GGUF vocabulary.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "runtime/gguf.h"
#include "runtime/tokenizer.h"
#include "tests/tokenizers/tokenizer_test_util.h"

using namespace mlcc;
using namespace mlcc::test;

namespace {

const std::string kSpmGguf = "/tokenizers/vocab-tests/ggml-vocab-llama-spm.gguf";
const std::string kBpeGguf = "/tokenizers/vocab-tests/ggml-vocab-llama-bpe.gguf";

// Every vector encodes to its ids, and decodes back to its text.
void check_vectors(const Tokenizer& tok, const std::vector<Vector>& vectors) {
  REQUIRE(vectors.size() == 46);
  for (size_t i = 0; i < vectors.size(); ++i) {
    const Vector& v = vectors[i];
    INFO("input " << i << ": \"" << v.text << "\"");
    CHECK(ids_text(tok.encode(v.text, false)) == ids_text(v.ids));
    CHECK(tok.decode(v.ids) == v.text);
  }
}

}  // namespace

TEST_CASE("GGUF llama vocabulary reproduces llama.cpp's SentencePiece vectors", "[tokenizer]") {
  if (!have_shared()) {
    WARN("SKIPPED: ../shared not present");
    return;
  }
  auto tok = Tokenizer::open(shared_dir() + kSpmGguf);
  CHECK(tok->kind() == "gguf-llama");
  CHECK(tok->vocab_size() == 32000);
  CHECK(tok->bos_id() == 1);
  CHECK(tok->eos_id() == 2);
  CHECK(tok->stop_ids() == std::vector<int32_t>{2});
  CHECK(tok->adds_bos());
  CHECK(tok->strips_leading_space());
  check_vectors(*tok, read_vectors(shared_dir() + kSpmGguf));
  CHECK(tok->encode("Hello world", true) == std::vector<int32_t>{1, 15043, 3186});
  // Control tokens written in the text are those tokens; the text after one gets the
  // space prefix again, as llama.cpp does.
  CHECK(tok->encode("<s>Hello</s>", false) == std::vector<int32_t>{1, 15043, 2});
  CHECK(tok->token_piece(15043) == "\xe2\x96\x81Hello");
  CHECK(tok->token_bytes(15043) == " Hello");
  CHECK(tok->token_bytes(13) == "\n");  // <0x0A>
  CHECK(tok->token_bytes(1).empty());
  CHECK(tok->piece_to_id("<0x0A>") == 13);
  CHECK(tok->piece_to_id("no such piece") == -1);
}

TEST_CASE("GGUF gpt2 vocabulary reproduces llama.cpp's Llama 3 BPE vectors", "[tokenizer]") {
  if (!have_shared()) {
    WARN("SKIPPED: ../shared not present");
    return;
  }
  auto tok = Tokenizer::open(shared_dir() + kBpeGguf);
  CHECK(tok->kind() == "gguf-gpt2");
  CHECK(tok->vocab_size() == 128256);
  CHECK(tok->bos_id() == 128000);
  CHECK(tok->eos_id() == 128001);
  CHECK(tok->stop_ids() == std::vector<int32_t>{128001, 128009});  // <|eot_id|> ends a turn
  CHECK(tok->adds_bos());
  CHECK_FALSE(tok->strips_leading_space());
  check_vectors(*tok, read_vectors(shared_dir() + kBpeGguf));
  CHECK(tok->encode("<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", true) ==
        std::vector<int32_t>{128000, 128006, 882, 128007, 271, 13347, 128009});
  CHECK(tok->token_piece(22691) == "\xc4\xa0Hello");  // "ĠHello"
  CHECK(tok->token_bytes(22691) == " Hello");
  CHECK(tok->token_bytes(128009).empty());
}

TEST_CASE("SentencePiece tokenizer.model reproduces the SentencePiece vectors", "[tokenizer]") {
  if (!have_shared()) {
    WARN("SKIPPED: ../shared not present");
    return;
  }
  auto tok = Tokenizer::open(shared_dir() + "/tokenizers/llama2/tokenizer.model");
  CHECK(tok->kind() == "sentencepiece");
  CHECK(tok->vocab_size() == 32000);
  CHECK(tok->bos_id() == 1);
  CHECK(tok->eos_id() == 2);
  CHECK(tok->stop_ids() == std::vector<int32_t>{2});
  check_vectors(*tok, read_vectors(shared_dir() + kSpmGguf));
  CHECK(tok->token_bytes(29871) == " ");
  CHECK(tok->token_bytes(0) == " \xe2\x81\x87 ");  // <unk>, as SentencePiece decodes it
  CHECK(tok->piece_to_id("\xe2\x96\x81Hello") == 15043);
  CHECK(tok->piece_to_id("no such piece") == -1);
}

TEST_CASE("tokenizer.json written from the Llama 3 vocabulary reproduces the BPE vectors",
          "[tokenizer]") {
  if (!have_shared()) {
    WARN("SKIPPED: ../shared not present");
    return;
  }
  gguf::File f = gguf::read(shared_dir() + kBpeGguf);
  const auto& tokens = f.at("tokenizer.ggml.tokens");
  const auto& types = f.at("tokenizer.ggml.token_type");
  const auto& merges = f.at("tokenizer.ggml.merges");
  nlohmann::json vocab = nlohmann::json::object(), added = nlohmann::json::array(),
                 merge_list = nlohmann::json::array();
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (types[i] == 3)
      added.push_back({{"id", i}, {"content", tokens[i]}, {"special", true}});
    else
      vocab[tokens[i].get<std::string>()] = i;
  }
  // Both forms of a merge: "a b" and, as newer files write them, ["a", "b"].
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string& m = merges[i].get_ref<const std::string&>();
    if (i % 2)
      merge_list.push_back(m);
    else
      merge_list.push_back({m.substr(0, m.find(' ')), m.substr(m.find(' ') + 1)});
  }
  nlohmann::json doc = {
      {"version", "1.0"},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"},
           {"pattern",
            {{"Regex",
              "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
              "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}}},
           {"behavior", "Isolated"},
           {"invert", false}},
          {{"type", "ByteLevel"},
           {"add_prefix_space", false},
           {"trim_offsets", true},
           {"use_regex", false}}}}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", {{{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 0}}}}}}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model",
       {{"type", "BPE"},
        {"ignore_merges", true},
        {"byte_fallback", false},
        {"vocab", vocab},
        {"merges", merge_list}}}};
  TempDir dir("mlcc-tok-llama3");
  dir.write("tokenizer.json", doc.dump());

  auto tok = Tokenizer::open((dir / ""));  // a directory: its tokenizer.json
  CHECK(tok->kind() == "huggingface-bpe");
  CHECK(tok->vocab_size() == 128256);
  CHECK(tok->bos_id() == 128000);
  CHECK(tok->eos_id() == 128001);
  CHECK(tok->stop_ids() == std::vector<int32_t>{128001, 128009});
  CHECK(tok->adds_bos());
  check_vectors(*tok, read_vectors(shared_dir() + kBpeGguf));
  CHECK(tok->encode("Hi<|eot_id|>", true) == std::vector<int32_t>{128000, 13347, 128009});

  // tokenizer_config.json beside it names BOS and EOS.
  dir.write("tokenizer_config.json",
            R"({"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>",
                "add_bos_token": false})");
  auto configured = Tokenizer::open((dir / "tokenizer.json"));
  CHECK(configured->eos_id() == 128009);
  CHECK(configured->stop_ids() == std::vector<int32_t>{128009});
  CHECK_FALSE(configured->adds_bos());
}
