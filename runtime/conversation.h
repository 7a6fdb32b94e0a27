// Conversation templates: how a user's message is wrapped for a chat model (llama-2,
// llama-3, chatml) or passed as is (raw), and what ends the model's reply. The KV cache
// keeps the earlier turns, so each turn produces only the text to append: the end of the
// previous reply's turn, the user's turn, and the header of the assistant's.
//
//   Conversation conv = Conversation::make("chatml");
//   std::string text = conv.prompt("Hi");   // "<|im_start|>system\n...<|im_start|>assistant\n"
//   auto ids = encode_prompt(tok, text, conv.special_pieces(), conv.add_bos());
//   ... generate ...; conv.advance();
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mlcc {

class Tokenizer;

class Conversation {
 public:
  // "llama-2", "llama-3", "chatml" or "raw"; throws mlcc::Error listing them otherwise.
  static Conversation make(const std::string& name);
  static const std::vector<std::string>& names();

  const std::string& name() const { return name_; }
  // The system message of the first turn ("" leaves the system part out). Each template
  // starts with its usual one; raw has none.
  std::string system_message;

  // The text to append for the next user turn (the first turn has the system part and,
  // where the template writes it, the BOS token). Does not change the conversation.
  std::string prompt(const std::string& user) const;
  // Records that the turn prompt() described was sent.
  void advance() { ++turns_; }
  // Back to the first turn.
  void reset() { turns_ = 0; }
  int64_t turns() const { return turns_; }

  // Whether the next turn needs the tokenizer's BOS token in front of its text (raw, first
  // turn); templates that write BOS write it as a special piece.
  bool add_bos() const { return turns_ == 0 && bos_by_tokenizer_; }
  // Special-token pieces the template writes ("<|im_start|>", "<s>"): encode_prompt maps
  // them to their ids instead of encoding their characters.
  const std::vector<std::string>& special_pieces() const { return special_pieces_; }
  // What ends the reply: token pieces (looked up in the vocabulary) and text.
  const std::vector<std::string>& stop_pieces() const { return stop_pieces_; }
  const std::vector<std::string>& stop_strings() const { return stop_strings_; }

 private:
  std::string name_;
  std::string first_prefix_;  // before the system part of the first turn
  std::string system_begin_, system_end_;
  bool system_opens_user_turn_ = false;  // the system part replaces user_begin_ (Llama 2)
  std::string turn_end_;                 // closes the previous reply, on every turn but the first
  std::string user_begin_, user_end_;    // around the user's text; user_end_ opens the reply
  bool bos_by_tokenizer_ = false;
  std::vector<std::string> special_pieces_, stop_pieces_, stop_strings_;
  int64_t turns_ = 0;
};

// Token ids of `text`: the special pieces it contains become their vocabulary ids ("<s>"
// and "</s>" the tokenizer's BOS and EOS when the vocabulary spells them otherwise), the
// text between them is encoded without BOS, piece by piece (as Meta's and MLC's chat code
// encode each part). add_bos puts the tokenizer's BOS first, if it has one. A special piece
// the vocabulary lacks is encoded as text.
std::vector<int32_t> encode_prompt(const Tokenizer& tok, const std::string& text,
                                   const std::vector<std::string>& special_pieces, bool add_bos);

}  // namespace mlcc
