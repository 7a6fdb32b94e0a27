// Internal to the tokenizers: the base of the kinds that keep their vocabulary as tables
// (Hugging Face, llama2.c, GGUF), the helpers they share, and one opener per kind, which
// Tokenizer::open (runtime/tokenizer.cc) chooses between.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "runtime/tokenizer.h"

namespace mlcc::tokenizers {

// Lets unordered_map<std::string, ...> be searched with a string_view, without a copy.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using PieceMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

class VocabTokenizer : public Tokenizer {
 public:
  int32_t vocab_size() const override { return static_cast<int32_t>(pieces_.size()); }
  std::string token_bytes(int32_t id) const override { return bytes_[check_id(id)]; }
  std::string token_piece(int32_t id) const override { return pieces_[check_id(id)]; }
  int32_t piece_to_id(const std::string& piece) const override { return find(piece); }

 protected:
  explicit VocabTokenizer(std::string path) : path_(std::move(path)) {}

  // Sets pieces_ and builds the piece -> id map; the first id wins for a repeated piece.
  void set_pieces(std::vector<std::string> pieces);
  int32_t find(std::string_view piece) const {
    auto it = piece_ids_.find(piece);
    return it == piece_ids_.end() ? -1 : it->second;
  }
  size_t check_id(int32_t id) const;
  // stop_ids_ = EOS plus the end-of-turn tokens the vocabulary has (<|eot_id|>, ...).
  void set_stop_ids(int32_t extra_id = -1);

  std::string path_;
  std::vector<std::string> pieces_;  // as stored in the file
  std::vector<std::string> bytes_;   // what each token contributes to decoded text
  PieceMap piece_ids_;
};

// The message for a token id outside [0, vocab_size).
[[noreturn]] void throw_bad_id(const std::string& path, int32_t id, int32_t vocab_size);
// Pieces that end a turn in chat vocabularies, looked up by their text.
const std::vector<std::string>& end_of_turn_pieces();

// Splits `text` at occurrences of special tokens (leftmost, and longest where several
// start at the same byte), as llama.cpp's parse_special and Hugging Face's added tokens do.
class SpecialTokenMatcher {
 public:
  void add(const std::string& piece, int32_t id);
  bool empty() const { return count_ == 0; }
  struct Segment {
    std::string_view text;  // raw text when id < 0
    int32_t id = -1;        // the special token otherwise
  };
  std::vector<Segment> split(std::string_view text) const;

 private:
  // By first byte, longest first.
  std::vector<std::pair<std::string, int32_t>> by_first_[256];
  size_t count_ = 0;
};

// SentencePiece's space, "▁".
inline constexpr std::string_view kSpmSpace = "\xe2\x96\x81";
// `s` with every `from` replaced by `to`.
std::string replace_all(std::string_view s, std::string_view from, std::string_view to);
// The byte-fallback token of a byte, "<0xXX>".
std::string byte_piece(unsigned char byte);
// The byte a "<0xXX>" piece stands for, or nullopt.
std::optional<char> byte_piece_value(std::string_view piece);

// Reads a whole file; throws mlcc::Error naming it when it cannot be read.
std::string read_file(const std::string& path);

std::unique_ptr<Tokenizer> open_sentencepiece(const std::string& path);
std::unique_ptr<Tokenizer> open_huggingface(const std::string& path);
std::unique_ptr<Tokenizer> open_llama2c(const std::string& path);
std::unique_ptr<Tokenizer> open_gguf(const std::string& path);

}  // namespace mlcc::tokenizers
