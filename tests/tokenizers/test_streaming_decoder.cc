// Decoding: StreamingDecoder never lets out part of a UTF-8 character, holds the bytes of
// an incomplete one until it completes (or flush()), and applies SentencePiece's
// leading-space rule at the start and after BOS, as Tokenizer::decode does.
#include <catch2/catch.hpp>

#include "runtime/tokenizer.h"
#include "tests/tokenizers/tokenizer_test_util.h"

using namespace mlcc;
using namespace mlcc::test;

namespace {

bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80             ? 1
               : (c & 0xE0) == 0xC0 ? 2
               : (c & 0xF0) == 0xE0 ? 3
               : (c & 0xF8) == 0xF0 ? 4
                                    : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

}  // namespace

TEST_CASE("StreamingDecoder holds back bytes of a character split across tokens", "[tokenizer]") {
  TempDir dir("mlcc-tok-stream");
  dir.write("tokenizer.json", gpt2_style_json().dump());
  auto tok = Tokenizer::open((dir / "tokenizer.json"));

  // Every byte is a token of its own here, so "日", "本", "é" and the llama each arrive in
  // pieces; each comes out whole, with the token that completes it.
  const std::string text = "a\xe6\x97\xa5\xe6\x9c\xac \xc3\xa9 \xf0\x9f\xa6\x99!";
  std::vector<int32_t> ids = tok->encode(text, false);
  REQUIRE(ids.size() == text.size());
  StreamingDecoder dec(*tok);
  std::vector<std::string> pieces;
  for (int32_t id : ids) {
    std::string piece = dec.put(id);
    CHECK(valid_utf8(piece));
    if (!piece.empty()) pieces.push_back(piece);
  }
  CHECK(dec.flush().empty());
  CHECK(pieces == std::vector<std::string>{"a", "\xe6\x97\xa5", "\xe6\x9c\xac", " ", "\xc3\xa9",
                                           " ", "\xf0\x9f\xa6\x99", "!"});

  // flush() gives what is held back, as it is.
  dec.reset();
  CHECK(dec.put(0xe6).empty());
  CHECK(dec.put(0x97).empty());
  CHECK(dec.flush() == "\xe6\x97");
  CHECK(dec.flush().empty());
  // A byte that can start no character is not waited on; nor is a stray continuation byte.
  CHECK(dec.put(0xff) == "\xff");
  CHECK(dec.put(0x80) == "\x80");
  // A lead byte whose character never completes comes out when the next one starts.
  CHECK(dec.put(0xe6).empty());
  CHECK(dec.put('x') == "\xe6x");
  // Multi-byte tokens: "hello" then " the".
  CHECK(dec.put(261) == "hello");
  CHECK(dec.put(258) == " the");
  CHECK_THROWS_WITH(dec.put(263), Catch::Contains("out of range"));
}

TEST_CASE("decode and StreamingDecoder drop the first space of SentencePiece text", "[tokenizer]") {
  if (!have_shared()) {
    WARN("SKIPPED: ../shared not present");
    return;
  }
  for (const char* file : {"/tokenizers/llama2/tokenizer.model", "/tokenizers/llama2/tokenizer.bin",
                           "/tokenizers/vocab-tests/ggml-vocab-llama-spm.gguf"}) {
    INFO("tokenizer: " << file);
    auto tok = Tokenizer::open(shared_dir() + file);
    // <s> ▁Hello ▁world <0xF0> <0x9F> <0xA6> <0x99> (a llama, not in the vocabulary)
    std::vector<int32_t> ids = {1, 15043, 3186, 243, 162, 169, 156};
    CHECK(tok->decode(ids) == "Hello world\xf0\x9f\xa6\x99");
    CHECK(tok->decode({15043, 3186}) == "Hello world");    // the start of a text
    CHECK(tok->decode({3186, 1, 15043}) == "worldHello");  // after BOS, as llama2.c
    StreamingDecoder dec(*tok);
    std::vector<std::string> out;
    for (int32_t id : ids) out.push_back(dec.put(id));
    CHECK(out == std::vector<std::string>{"", "Hello", " world", "", "", "", "\xf0\x9f\xa6\x99"});
    CHECK(dec.put(3186) == " world");  // only the first word loses its space
    dec.reset();
    CHECK(dec.put(3186) == "world");
    // A stream that continues text (a reply to a prompt without BOS at its end) keeps it.
    StreamingDecoder cont(*tok, /*at_start=*/false);
    CHECK(cont.put(3186) == " world");
    CHECK(cont.put(1).empty());
    CHECK(cont.put(15043) == "Hello");
    // Round trip: the dummy prefix added by encode is what decode drops.
    for (const std::string text :
         {"Hello world", " Hello", "\n\nx", "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac"})
      CHECK(tok->decode(tok->encode(text, true)) == text);
  }
}
