// llama2.c's tokenizer.bin: int32 max_token_length, then per token f32 score, int32 length
// and the bytes (SentencePiece's "▁" already written as a space). Encoding follows run.c's
// encode(): a dummy-prefix space, each UTF-8 character as its token or as <0xXX> byte
// tokens (id = byte + 3), then merging the adjacent pair whose merged piece scores highest.
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>

#include "runtime/error.h"
#include "runtime/tokenizers/bpe.h"
#include "runtime/tokenizers/vocab_tokenizer.h"

namespace mlcc::tokenizers {

namespace {

class Llama2cTokenizer : public VocabTokenizer {
 public:
  explicit Llama2cTokenizer(const std::string& path) : VocabTokenizer(path) {
    std::string data = read_file(path);
    size_t pos = 0;
    auto read_i32 = [&](const char* what) {
      int32_t v;
      if (pos + 4 > data.size())
        throw Error("llama2.c tokenizer " + path + ": the file ends inside " + what + " at byte " +
                    std::to_string(pos));
      std::memcpy(&v, data.data() + pos, 4);
      pos += 4;
      return v;
    };
    const int32_t max_len = read_i32("max_token_length");
    if (max_len <= 0 || max_len > 4096)
      throw Error("llama2.c tokenizer " + path + ": max_token_length is " +
                  std::to_string(max_len) + "; expected 1..4096 (is this a tokenizer.bin?)");
    std::vector<std::string> pieces;
    while (pos < data.size()) {
      const std::string token = "token " + std::to_string(pieces.size());
      float score;
      int32_t bits = read_i32(("the score of " + token).c_str());
      std::memcpy(&score, &bits, 4);
      int32_t len = read_i32(("the length of " + token).c_str());
      if (!std::isfinite(score) || len < 0 || len > max_len || pos + len > data.size())
        throw Error("llama2.c tokenizer " + path + ": " + token + " at byte " +
                    std::to_string(pos - 8) + " has score " + std::to_string(score) +
                    " and length " + std::to_string(len) + "; expected a finite score and 0.." +
                    std::to_string(max_len) + " bytes within the file");
      pieces.emplace_back(data, pos, static_cast<size_t>(len));
      scores_.push_back(score);
      pos += static_cast<size_t>(len);
    }
    if (pieces.size() < 3)
      throw Error("llama2.c tokenizer " + path + " holds " + std::to_string(pieces.size()) +
                  " tokens; expected at least <unk>, <s>, </s>");
    set_pieces(std::move(pieces));

    // run.c hard-codes these ids and decodes "<0xXX>" pieces to their byte.
    bos_id_ = 1;
    eos_id_ = 2;
    stop_ids_ = {eos_id_};
    strips_leading_space_ = true;
    adds_bos_ = true;
    bytes_.resize(pieces_.size());
    for (size_t i = 0; i < pieces_.size(); ++i) {
      if (static_cast<int32_t>(i) == bos_id_ || static_cast<int32_t>(i) == eos_id_) continue;
      std::optional<char> b = byte_piece_value(pieces_[i]);
      bytes_[i] = b ? std::string(1, *b) : pieces_[i];
    }
    space_id_ = find(" ");
  }

  std::string kind() const override { return "llama2c"; }

  std::vector<int32_t> encode(const std::string& text, bool add_bos) const override {
    // run.c's dummy prefix, when the text is not empty.
    const bool prefix = !text.empty() && space_id_ >= 0;
    const std::string t = prefix ? " " + text : text;
    std::vector<MergeSymbol> syms;
    auto add = [&](uint32_t begin, uint32_t end, int32_t id, bool frozen) {
      MergeSymbol s;
      s.begin = begin;
      s.end = end;
      s.id = id;
      s.frozen = frozen;
      s.prev = static_cast<int32_t>(syms.size()) - 1;
      s.next = static_cast<int32_t>(syms.size()) + 1;
      syms.push_back(s);
    };
    if (prefix) add(0, 1, space_id_, false);
    const uint32_t start = prefix ? 1 : 0;
    // run.c's scan: a character is a lead byte and at most three continuation bytes.
    for (uint32_t i = start; i < t.size();) {
      uint32_t j = i + 1;
      while (j < t.size() && (static_cast<unsigned char>(t[j]) & 0xC0) == 0x80 && j - i < 4) ++j;
      int32_t id = find(std::string_view(t).substr(i, j - i));
      if (id >= 0) {
        add(i, j, id, false);
      } else {
        for (uint32_t k = i; k < j; ++k) {
          int32_t byte_id = static_cast<unsigned char>(t[k]) + 3;
          add(k, k + 1, byte_id < vocab_size() ? byte_id : 0, true);  // 0: <unk>
        }
      }
      i = j;
    }
    std::vector<int32_t> out;
    // run.c merges with BOS in the list too, but its piece ("\n<s>\n") begins no token.
    if (add_bos) out.push_back(bos_id_);
    if (syms.empty()) return out;
    syms.back().next = -1;
    merge_greedy(syms, [&](const MergeSymbol& l, const MergeSymbol& r) {
      // Pieces of adjacent unfrozen symbols are their text, so the merged piece is a slice.
      int32_t id = find(std::string_view(t).substr(l.begin, r.end - l.begin));
      if (id < 0) return std::optional<MergeCandidate>();
      return std::optional<MergeCandidate>({scores_[id], id});
    });
    for (int32_t i = 0; i >= 0; i = syms[i].next) out.push_back(syms[i].id);
    return out;
  }

 private:
  std::vector<float> scores_;
  int32_t space_id_ = -1;
};

}  // namespace

std::unique_ptr<Tokenizer> open_llama2c(const std::string& path) {
  return std::make_unique<Llama2cTokenizer>(path);
}

}  // namespace mlcc::tokenizers
