// The conversation templates (runtime/conversation.h), written out as the model families'
// own chat formats: Meta's for Llama 2 and Llama 3, OpenAI's ChatML (Qwen, many fine-tunes).
#include "runtime/conversation.h"

#include "runtime/error.h"
#include "runtime/tokenizer.h"

namespace mlcc {

const std::vector<std::string>& Conversation::names() {
  static const std::vector<std::string> names = {"llama-2", "llama-3", "chatml", "raw"};
  return names;
}

Conversation Conversation::make(const std::string& name) {
  Conversation c;
  c.name_ = name;
  if (name == "llama-2") {
    // <s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {reply}</s><s>[INST] {user} ...
    c.system_message = "You are a helpful, respectful and honest assistant.";
    c.first_prefix_ = "<s>";
    c.system_begin_ = "[INST] <<SYS>>\n";
    c.system_end_ = "\n<</SYS>>\n\n";
    c.system_opens_user_turn_ = true;
    c.user_begin_ = "[INST] ";
    c.user_end_ = " [/INST]";
    c.turn_end_ = "</s><s>";
    c.special_pieces_ = {"<s>", "</s>"};
    c.stop_pieces_ = {"</s>"};
    c.stop_strings_ = {"[INST]"};
  } else if (name == "llama-3") {
    c.first_prefix_ = "<|begin_of_text|>";
    c.system_begin_ = "<|start_header_id|>system<|end_header_id|>\n\n";
    c.system_end_ = "<|eot_id|>";
    c.user_begin_ = "<|start_header_id|>user<|end_header_id|>\n\n";
    c.user_end_ = "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
    c.turn_end_ = "<|eot_id|>";
    c.special_pieces_ = {"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                         "<|eot_id|>", "<|end_of_text|>"};
    c.stop_pieces_ = {"<|eot_id|>", "<|end_of_text|>"};
  } else if (name == "chatml") {
    c.system_message = "You are a helpful assistant.";
    c.system_begin_ = "<|im_start|>system\n";
    c.system_end_ = "<|im_end|>\n";
    c.user_begin_ = "<|im_start|>user\n";
    c.user_end_ = "<|im_end|>\n<|im_start|>assistant\n";
    c.turn_end_ = "<|im_end|>\n";
    c.special_pieces_ = {"<|im_start|>", "<|im_end|>"};
    c.stop_pieces_ = {"<|im_end|>"};
    // Fine-tunes whose vocabulary lacks the special token write it as text.
    c.stop_strings_ = {"<|im_end|>"};
  } else if (name == "raw") {
    c.bos_by_tokenizer_ = true;
  } else {
    std::string known;
    for (const std::string& n : names()) known += (known.empty() ? "" : ", ") + n;
    throw Error("unknown conversation template '" + name + "'; expected one of " + known);
  }
  return c;
}

std::string Conversation::prompt(const std::string& user) const {
  std::string text = turns_ == 0 ? first_prefix_ : turn_end_;
  if (turns_ == 0 && !system_message.empty() && !system_begin_.empty()) {
    text += system_begin_ + system_message + system_end_;
    // Llama 2 writes the system part inside the first [INST].
    if (!system_opens_user_turn_) text += user_begin_;
  } else {
    text += user_begin_;
  }
  return text + user + user_end_;
}

std::vector<int32_t> encode_prompt(const Tokenizer& tok, const std::string& text,
                                   const std::vector<std::string>& special_pieces, bool add_bos) {
  std::vector<int32_t> ids;
  if (add_bos && tok.bos_id() >= 0) ids.push_back(tok.bos_id());
  auto special_id = [&](const std::string& piece) {
    int32_t id = tok.piece_to_id(piece);
    if (id < 0 && piece == "<s>") id = tok.bos_id();
    if (id < 0 && piece == "</s>") id = tok.eos_id();
    return id;
  };
  auto add_text = [&](size_t begin, size_t end) {
    if (begin >= end) return;
    std::vector<int32_t> part = tok.encode(text.substr(begin, end - begin), false);
    ids.insert(ids.end(), part.begin(), part.end());
  };
  size_t done = 0, at = 0;  // text[done, at) waits to be encoded as text
  while (at < text.size()) {
    // The longest special piece starting here, if any.
    const std::string* found = nullptr;
    for (const std::string& piece : special_pieces)
      if (!piece.empty() && text.compare(at, piece.size(), piece) == 0 &&
          (found == nullptr || piece.size() > found->size()))
        found = &piece;
    int32_t id = found != nullptr ? special_id(*found) : -1;
    if (id < 0) {
      ++at;
      continue;
    }
    add_text(done, at);
    ids.push_back(id);
    at += found->size();
    done = at;
  }
  add_text(done, text.size());
  return ids;
}

}  // namespace mlcc
