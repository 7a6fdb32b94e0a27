// llama2.c's tokenizer.bin: the same Llama 2 vocabulary as tokenizer.model gives the same ids
// on ordinary text (llama2.c merges greedily by score, which SentencePiece's BPE matches
// there), and the stories260K tokenizer round-trips the text llama2.c generated with it.
#include <catch2/catch.hpp>

#include "runtime/tokenizer.h"
#include "tests/tokenizers/tokenizer_test_util.h"

using namespace mlcc;
using namespace mlcc::test;

TEST_CASE("llama2.c tokenizer.bin encodes ordinary text as tokenizer.model does", "[tokenizer]") {
  if (!have_shared()) {
    WARN("SKIPPED: ../shared not present");
    return;
  }
  auto bin = Tokenizer::open(shared_dir() + "/tokenizers/llama2/tokenizer.bin");
  auto model = Tokenizer::open(shared_dir() + "/tokenizers/llama2/tokenizer.model");
  CHECK(bin->kind() == "llama2c");
  CHECK(bin->vocab_size() == 32000);
  CHECK(bin->bos_id() == 1);
  CHECK(bin->eos_id() == 2);
  CHECK(bin->strips_leading_space());

  std::vector<std::string> texts = {
      "Hello world",
      "The quick brown fox jumps over the lazy dog.",
      "Once upon a time, there was a little girl named Lily.",
      "She loved to play outside in the park with her friends.",
      "I believe the meaning of life is to find your gift.",
      "Simply put, the theory of relativity states that time is relative.",
      "It's 3:45 pm; the meeting costs $1,250 (plus tax), isn't it?",
      "Translate English to French: sea otter => loutre de mer",
      "Lily's mom said, \"Don't worry, we can help you.\"\nThey smiled.",
      "e-mail: someone@example.com, tel. +1 (555) 010-9999",
  };
  for (const Vector& v :
       read_vectors(shared_dir() + "/tokenizers/vocab-tests/ggml-vocab-llama-spm.gguf"))
    texts.push_back(v.text);
  for (const std::string& text : texts) {
    INFO("text: \"" << text << "\"");
    std::vector<int32_t> ids = bin->encode(text, true);
    CHECK(ids_text(ids) == ids_text(model->encode(text, true)));
    CHECK(bin->decode(ids) == text);
  }
  CHECK(bin->encode("", true) == std::vector<int32_t>{1});
  CHECK(bin->encode("", false).empty());
  // Byte fallback: a character outside the vocabulary as its UTF-8 bytes, id = byte + 3.
  CHECK(bin->encode("\xf0\x9f\xa6\x99", false) ==
        std::vector<int32_t>{29871, 0xf0 + 3, 0x9f + 3, 0xa6 + 3, 0x99 + 3});
  CHECK(bin->token_bytes(13) == "\n");  // <0x0A>
  CHECK(bin->token_piece(13) == "<0x0A>");
  CHECK(bin->token_bytes(1).empty());
  CHECK(bin->token_piece(15043) == " Hello");  // llama2.c stores "▁" as a space
  CHECK(bin->piece_to_id(" Hello") == 15043);
}

TEST_CASE("stories260K's tok512.bin loads and round-trips llama2.c's output", "[tokenizer]") {
  if (!have_shared()) {
    WARN("SKIPPED: ../shared not present");
    return;
  }
  auto tok = Tokenizer::open(shared_dir() + "/models/stories260K/tok512.bin");
  CHECK(tok->kind() == "llama2c");
  CHECK(tok->vocab_size() == 512);
  CHECK(tok->stop_ids() == std::vector<int32_t>{2});
  std::string text = read_text(shared_dir() + "/models/stories260K/greedy_reference.txt");
  REQUIRE(text.size() > 100);
  std::vector<int32_t> ids = tok->encode(text, true);
  CHECK(ids.front() == 1);
  CHECK(ids.size() < text.size() / 2);  // merges happened
  for (int32_t id : ids) CHECK((id >= 0 && id < 512));
  CHECK(tok->decode(ids) == text);
  // run.c prints a token after BOS without its leading space.
  int32_t once = tok->encode("Once", false).at(0);
  CHECK(tok->token_bytes(once) == " Once");
  CHECK(tok->decode({1, once}) == "Once");
}
