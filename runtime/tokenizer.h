// Tokenizers the runtime reads (runtime/tokenizers/): SentencePiece tokenizer.model (through
// libsentencepiece), Hugging Face tokenizer.json (byte-level BPE with Llama 3, Qwen2 and
// GPT-2 pre-tokenizers; PCRE2 runs their Unicode regexes), llama2.c tokenizer.bin, and the
// vocabulary embedded in a GGUF file (SentencePiece-style "llama" or byte-level "gpt2").
// One interface, so the engine, mlcc-chat, `mlcc tokenize` and Python treat them alike.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mlcc {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Opens a tokenizer file, choosing the kind by name and content: *.model (SentencePiece),
  // *.json (Hugging Face), *.gguf, or a llama2.c tokenizer.bin. A directory means the
  // first of tokenizer.json, tokenizer.model, tokenizer.gguf, tokenizer.bin in it. Throws
  // mlcc::Error naming the file when it is missing, of no known kind, or malformed.
  static std::unique_ptr<Tokenizer> open(const std::string& path);

  // "sentencepiece", "huggingface-bpe", "llama2c", "gguf-llama", "gguf-gpt2".
  virtual std::string kind() const = 0;
  virtual int32_t vocab_size() const = 0;

  // Token ids of `text`, with the BOS token first when add_bos (and the tokenizer has
  // one). Special tokens written in the text (e.g. "<|eot_id|>") are matched as special
  // tokens by tokenizers that have them, as llama.cpp does with parse_special.
  virtual std::vector<int32_t> encode(const std::string& text, bool add_bos) const = 0;

  // The bytes token `id` contributes to decoded text: SentencePiece's "▁" as a space, byte
  // tokens (<0x0A>, byte-level BPE's mapped characters) as their raw bytes, control tokens
  // (BOS, EOS) as "". Pieces may be partial UTF-8. Throws mlcc::Error for an id out of range.
  virtual std::string token_bytes(int32_t id) const = 0;
  // The vocabulary entry of `id` as stored ("▁the", "<0x0A>", "<|eot_id|>"), for display.
  virtual std::string token_piece(int32_t id) const = 0;
  // The id of a vocabulary entry (e.g. "<|eot_id|>"), or -1.
  virtual int32_t piece_to_id(const std::string& piece) const = 0;

  int32_t bos_id() const { return bos_id_; }  // -1 when none
  int32_t eos_id() const { return eos_id_; }  // -1 when none
  // Token ids that end generation: EOS and end-of-turn tokens the vocabulary has.
  const std::vector<int32_t>& stop_ids() const { return stop_ids_; }
  // Whether decoded text drops the space that SentencePiece-style vocabularies put before
  // the first word ("▁Once" after BOS prints as "Once"), as llama2.c and SentencePiece do.
  bool strips_leading_space() const { return strips_leading_space_; }
  // Whether the model's prompts start with BOS (GGUF's tokenizer.ggml.add_bos_token,
  // tokenizer_config.json's add_bos_token; SentencePiece and llama2.c vocabularies: yes).
  // encode() adds it only when asked; this says what to ask for.
  bool adds_bos() const { return adds_bos_; }

  // The text of `ids` (leading-space rule applied when ids[0] follows BOS or starts the
  // text), invalid UTF-8 kept as bytes.
  std::string decode(const std::vector<int32_t>& ids) const;

 protected:
  int32_t bos_id_ = -1, eos_id_ = -1;
  std::vector<int32_t> stop_ids_;
  bool strips_leading_space_ = false;
  bool adds_bos_ = false;
};

// Turns a stream of token ids into text pieces that never split a UTF-8 character: bytes
// of an incomplete character are held back until the character completes (or flush()).
// As in decode(), the first token, and the first after BOS, loses its leading space where
// the tokenizer strips_leading_space().
class StreamingDecoder {
 public:
  // at_start: the first token begins a text (the leading-space rule applies to it); false
  // when the stream continues text already there, e.g. a reply to a prompt not ending in
  // BOS.
  explicit StreamingDecoder(const Tokenizer& tok, bool at_start = true)
      : tok_(tok), at_start_(at_start) {}
  // The text that became complete with `id` (possibly "").
  std::string put(int32_t id);
  // Whatever is held back, as is (invalid or cut-off UTF-8 included).
  std::string flush();
  // Forget everything; the next token is treated as the start of a text.
  void reset();

 private:
  const Tokenizer& tok_;
  std::string pending_;
  bool at_start_;
};

}  // namespace mlcc
