// Conversation templates: the exact text of first and later turns, what ends a reply, and
// how special pieces in the text become token ids.
#include <catch2/catch.hpp>

#include "runtime/conversation.h"
#include "runtime/error.h"
#include "tests/engine/engine_test_util.h"

using namespace mlcc;

TEST_CASE("llama-2 template: [INST] with <<SYS>> first, </s><s>[INST] after", "[conversation]") {
  Conversation c = Conversation::make("llama-2");
  c.system_message = "Be brief.";
  CHECK(c.prompt("Hi") == "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST]");
  CHECK(!c.add_bos());
  c.advance();
  CHECK(c.prompt("And?") == "</s><s>[INST] And? [/INST]");
  c.reset();
  c.system_message = "";
  CHECK(c.prompt("Hi") == "<s>[INST] Hi [/INST]");
  CHECK(c.stop_pieces() == std::vector<std::string>{"</s>"});
  CHECK(c.stop_strings() == std::vector<std::string>{"[INST]"});
  CHECK(Conversation::make("llama-2").system_message ==
        "You are a helpful, respectful and honest assistant.");
}

TEST_CASE("llama-3 template: header ids around each turn, <|eot_id|> ends a reply",
          "[conversation]") {
  Conversation c = Conversation::make("llama-3");
  CHECK(c.prompt("Hi") ==
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n");
  c.system_message = "Be brief.";
  CHECK(c.prompt("Hi") ==
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n");
  c.advance();
  CHECK(c.turns() == 1);
  CHECK(c.prompt("And?") ==
        "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnd?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n");
  CHECK(c.stop_pieces() == std::vector<std::string>{"<|eot_id|>", "<|end_of_text|>"});
}

TEST_CASE("chatml template: <|im_start|>role ... <|im_end|>", "[conversation]") {
  Conversation c = Conversation::make("chatml");
  CHECK(c.prompt("Hi") ==
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  c.advance();
  CHECK(c.prompt("And?") ==
        "<|im_end|>\n<|im_start|>user\nAnd?<|im_end|>\n<|im_start|>assistant\n");
  c.reset();
  c.system_message = "";
  CHECK(c.prompt("Hi") == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  CHECK(c.stop_pieces() == std::vector<std::string>{"<|im_end|>"});
  CHECK(c.stop_strings() == std::vector<std::string>{"<|im_end|>"});
}

TEST_CASE("raw template: the prompt as is, BOS by the tokenizer on the first turn only",
          "[conversation]") {
  Conversation c = Conversation::make("raw");
  CHECK(c.prompt("Once upon") == "Once upon");
  CHECK(c.prompt("") == "");
  CHECK(c.add_bos());
  c.advance();
  CHECK(!c.add_bos());
  CHECK(c.prompt(" a time") == " a time");
  CHECK(c.stop_pieces().empty());
  CHECK(c.stop_strings().empty());
}

TEST_CASE("an unknown template is refused with the known names", "[conversation]") {
  try {
    Conversation::make("vicuna");
    FAIL("expected an error");
  } catch (const Error& e) {
    std::string msg = e.what();
    CHECK(msg.find("'vicuna'") != std::string::npos);
    CHECK(msg.find("llama-2, llama-3, chatml, raw") != std::string::npos);
  }
}

TEST_CASE("encode_prompt maps special pieces to ids and encodes the text between",
          "[conversation]") {
  testing::LetterTokenizer tok(320);
  const int32_t start = tok.piece_to_id("<|im_start|>"), end = tok.piece_to_id("<|im_end|>");
  REQUIRE(start > 0);
  const std::vector<std::string> specials = {"<|im_start|>", "<|im_end|>"};
  std::vector<int32_t> want = {start};
  for (int32_t id : tok.encode("user", false)) want.push_back(id);
  want.push_back(end);
  CHECK(encode_prompt(tok, "<|im_start|>user<|im_end|>", specials, false) == want);
  // Empty raw prompt: BOS alone.
  CHECK(encode_prompt(tok, "", {}, true) == std::vector<int32_t>{1});
  CHECK(encode_prompt(tok, "", {}, false).empty());
  // "<s>" and "</s>" are the tokenizer's BOS and EOS.
  CHECK(encode_prompt(tok, "<s>ab</s>", {"<s>", "</s>"}, false) ==
        std::vector<int32_t>{1, tok.piece_to_id("ab"), 2});
  // A special piece the vocabulary lacks is encoded as text.
  CHECK(encode_prompt(tok, "ab<|x|>", {"<|x|>"}, false) == tok.encode("ab<|x|>", false));
}
