// Hugging Face tokenizer.json: a small hand-made GPT-2-style byte-level file (merge order,
// the GPT-2 regex, added tokens, lossless bytes), and a Llama 2-style file (Prepend and
// Replace normalizers, byte fallback) written from the SentencePiece GGUF vocabulary, which
// must reproduce llama.cpp's SentencePiece vectors.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "runtime/gguf.h"
#include "runtime/tokenizer.h"
#include "tests/tokenizers/tokenizer_test_util.h"

using namespace mlcc;
using namespace mlcc::test;
using nlohmann::json;

TEST_CASE("a GPT-2-style tokenizer.json encodes by merge rank over GPT-2's regex words",
          "[tokenizer]") {
  TempDir dir("mlcc-tok-gpt2");
  dir.write("tokenizer.json", gpt2_style_json().dump());
  auto tok = Tokenizer::open((dir / "tokenizer.json"));
  CHECK(tok->kind() == "huggingface-bpe");
  CHECK(tok->vocab_size() == 263);
  CHECK(tok->bos_id() == -1);
  CHECK(tok->eos_id() == 262);  // <|endoftext|>, found by name
  CHECK(tok->stop_ids() == std::vector<int32_t>{262});
  CHECK_FALSE(tok->adds_bos());
  CHECK_FALSE(tok->strips_leading_space());

  // Words "hello", " the", " world" ("Ġthe" needs "h e", then "Ġ t", then "Ġt he"), the
  // special token, and "'s" split off by the regex.
  CHECK(tok->encode("hello the world<|endoftext|>it's", false) ==
        std::vector<int32_t>{261, 258, ' ', 'w', 'o', 'r', 'l', 'd', 262, 'i', 't', '\'', 's'});
  // BOS is asked for but there is none.
  CHECK(tok->encode("he", true) == std::vector<int32_t>{256});
  CHECK(tok->token_piece(258) == "\xc4\xa0the");
  CHECK(tok->token_bytes(258) == " the");
  CHECK(tok->token_bytes(262).empty());
  CHECK(tok->token_bytes(10) == "\n");  // "Ċ"

  // Byte-level BPE is lossless, invalid UTF-8 included.
  for (std::string text : {"h\xc3\xa9llo  \n\tthe \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\xa6\x99!",
                           "\xff\xfe broken \xe6\x97", "   ", ""}) {
    INFO("text: " << text);
    CHECK(tok->decode(tok->encode(text, false)) == text);
  }
}

TEST_CASE("a Llama 2-style tokenizer.json reproduces the SentencePiece vectors", "[tokenizer]") {
  if (!have_shared()) {
    WARN("SKIPPED: ../shared not present");
    return;
  }
  const std::string gguf_path = shared_dir() + "/tokenizers/vocab-tests/ggml-vocab-llama-spm.gguf";
  gguf::File f = gguf::read(gguf_path);
  const json& tokens = f.at("tokenizer.ggml.tokens");
  const json& types = f.at("tokenizer.ggml.token_type");
  json vocab = json::object(), added = json::array(), merges = json::array();
  std::unordered_map<std::string, int> ids;
  for (size_t i = 0; i < tokens.size(); ++i) {
    vocab[tokens[i].get<std::string>()] = i;
    ids[tokens[i].get<std::string>()] = static_cast<int>(i);
    if (types[i] == 2 || types[i] == 3)
      added.push_back({{"id", i}, {"content", tokens[i]}, {"special", true}});
  }
  // As transformers' converter derives them: every split of a normal token into two
  // tokens is a merge, ranked by the merged token's score ("▁▁" scores -1e9 in Llama 2, so
  // ranking by id would not do).
  const json& scores = f.at("tokenizer.ggml.scores");
  std::vector<std::tuple<float, size_t, int, int, std::string>> ranked;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (types[i] != 1) continue;
    const std::string& t = tokens[i].get_ref<const std::string&>();
    for (size_t k = 1; k < t.size(); ++k) {
      if ((static_cast<unsigned char>(t[k]) & 0xC0) == 0x80) continue;
      auto l = ids.find(t.substr(0, k)), r = ids.find(t.substr(k));
      if (l != ids.end() && r != ids.end())
        ranked.push_back(
            {-scores[i].get<float>(), i, l->second, r->second, l->first + " " + r->first});
    }
  }
  std::sort(ranked.begin(), ranked.end());
  for (const auto& m : ranked) merges.push_back(std::get<4>(m));
  const std::string space = "\xe2\x96\x81";
  json doc = {{"added_tokens", added},
              {"normalizer",
               {{"type", "Sequence"},
                {"normalizers",
                 {{{"type", "Prepend"}, {"prepend", space}},
                  {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", space}}}}}},
              {"pre_tokenizer", nullptr},
              {"decoder",
               {{"type", "Sequence"},
                {"decoders",
                 {{{"type", "Replace"}, {"pattern", {{"String", space}}}, {"content", " "}},
                  {{"type", "ByteFallback"}},
                  {{"type", "Fuse"}},
                  {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
              {"model",
               {{"type", "BPE"},
                {"byte_fallback", true},
                {"unk_token", "<unk>"},
                {"vocab", vocab},
                {"merges", merges}}}};
  // Newer files say nearly the same with a Metaspace pre-tokenizer and decoder instead:
  // Metaspace adds no "▁" to text that starts with a space, so those inputs differ.
  json metaspace = doc;
  metaspace["normalizer"] = nullptr;
  metaspace["pre_tokenizer"] = metaspace["decoder"] = {
      {"type", "Metaspace"}, {"replacement", space}, {"prepend_scheme", "first"}, {"split", false}};

  TempDir dir("mlcc-tok-llama2");
  dir.write("tokenizer_config.json",
            R"({"add_bos_token": true, "bos_token": {"content": "<s>"}, "eos_token": "</s>"})");
  for (const json& d : {doc, metaspace}) {
    dir.write("tokenizer.json", d.dump());
    auto tok = Tokenizer::open((dir / "tokenizer.json"));
    CHECK(tok->bos_id() == 1);
    CHECK(tok->eos_id() == 2);
    CHECK(tok->adds_bos());
    CHECK(tok->strips_leading_space());
    for (const Vector& v : read_vectors(gguf_path)) {
      if (d == metaspace && v.text.starts_with(' ')) continue;
      INFO("input: \"" << v.text << "\"; pre_tokenizer " << d["pre_tokenizer"].dump());
      CHECK(ids_text(tok->encode(v.text, false)) == ids_text(v.ids));
      CHECK(tok->decode(v.ids) == v.text);
    }
    CHECK(tok->token_bytes(13) == "\n");  // <0x0A>
    CHECK(tok->encode(" Hello", false) ==
          (d == metaspace ? std::vector<int32_t>{15043} : std::vector<int32_t>{29871, 15043}));
  }
}

TEST_CASE("Split pre-tokenizers cut words as each behaviour says", "[tokenizer]") {
  // With ignore_merges, a word that is in the vocabulary is one token, so the ids show the
  // words: "a-" is 263, "b-" 264, "-b" 265, "-c" 266, "--" 267; single bytes are their byte.
  json doc = gpt2_style_json();
  const char* words[] = {"a-", "b-", "-b", "-c", "--"};
  for (int i = 0; i < 5; ++i) doc["model"]["vocab"][words[i]] = 263 + i;
  doc["model"]["ignore_merges"] = true;
  TempDir dir("mlcc-tok-split");
  auto words_of = [&](const char* behavior, bool invert = false) {
    doc["pre_tokenizer"] = {
        {"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"},
           {"pattern", {{"String", "-"}}},
           {"behavior", behavior},
           {"invert", invert}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
    dir.write("tokenizer.json", doc.dump());
    return Tokenizer::open((dir / "tokenizer.json"))->encode("a-b--c", false);
  };
  using Ids = std::vector<int32_t>;
  CHECK(words_of("Isolated") == Ids{'a', '-', 'b', '-', '-', 'c'});
  CHECK(words_of("Removed") == Ids{'a', 'b', 'c'});
  CHECK(words_of("MergedWithPrevious") == Ids{263, 264, '-', 'c'});
  CHECK(words_of("MergedWithNext") == Ids{'a', 265, '-', 266});
  CHECK(words_of("Contiguous") == Ids{'a', '-', 'b', 267, 'c'});
  CHECK(words_of("Removed", true) == Ids{'-', '-', '-'});  // invert: the text between goes
}
