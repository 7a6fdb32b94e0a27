// A SentencePiece tokenizer.model (Llama 2, Mistral, TinyLlama), encoded by libsentencepiece
// itself so that its normalization rules and algorithm (BPE or unigram) are the reference's.
#include <sentencepiece_processor.h>

#include <memory>

#include "runtime/error.h"
#include "runtime/tokenizers/vocab_tokenizer.h"

namespace mlcc::tokenizers {

namespace {

class SentencePieceTokenizer : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(const std::string& path) : path_(path) {
    sentencepiece::util::Status st = sp_.Load(path);
    if (!st.ok())
      throw Error("tokenizer " + path + " is not a SentencePiece model: " + st.ToString());
    bos_id_ = sp_.bos_id();
    eos_id_ = sp_.eos_id();
    if (eos_id_ >= 0) stop_ids_ = {eos_id_};
    strips_leading_space_ = true;  // SentencePiece drops the dummy prefix when decoding
    adds_bos_ = bos_id_ >= 0;
    // Control pieces (<s>, </s>) written in the text are those tokens, as with GGUF
    // vocabularies; libsentencepiece itself would spell them out.
    for (int i = 0; i < sp_.GetPieceSize(); ++i)
      if (sp_.IsControl(i)) special_.add(sp_.IdToPiece(i), i);
  }

  std::string kind() const override { return "sentencepiece"; }
  int32_t vocab_size() const override { return sp_.GetPieceSize(); }

  std::vector<int32_t> encode(const std::string& text, bool add_bos) const override {
    std::vector<int32_t> out;
    if (add_bos && bos_id_ >= 0) out.push_back(bos_id_);
    std::vector<int> ids;
    for (const SpecialTokenMatcher::Segment& s : special_.split(text)) {
      if (s.id >= 0) {
        out.push_back(s.id);
        continue;
      }
      sentencepiece::util::Status st = sp_.Encode(std::string(s.text), &ids);
      if (!st.ok()) throw Error("tokenizer " + path_ + ": cannot encode: " + st.ToString());
      out.insert(out.end(), ids.begin(), ids.end());
    }
    return out;
  }

  std::string token_bytes(int32_t id) const override {
    check(id);
    if (sp_.IsControl(id)) return "";
    if (sp_.IsUnknown(id)) return " \xe2\x81\x87 ";  // " ⁇ ", as SentencePiece decodes it
    const std::string& piece = sp_.IdToPiece(id);
    if (sp_.IsByte(id)) return std::string(1, byte_piece_value(piece).value_or('?'));
    return replace_all(piece, kSpmSpace, " ");
  }

  std::string token_piece(int32_t id) const override {
    check(id);
    return sp_.IdToPiece(id);
  }

  int32_t piece_to_id(const std::string& piece) const override {
    int id = sp_.PieceToId(piece);  // gives the unknown token's id for any unknown piece
    return sp_.IdToPiece(id) == piece ? id : -1;
  }

 private:
  void check(int32_t id) const {
    if (id < 0 || id >= sp_.GetPieceSize()) throw_bad_id(path_, id, sp_.GetPieceSize());
  }

  std::string path_;
  sentencepiece::SentencePieceProcessor sp_;
  SpecialTokenMatcher special_;
};

}  // namespace

std::unique_ptr<Tokenizer> open_sentencepiece(const std::string& path) {
  return std::make_unique<SentencePieceTokenizer>(path);
}

}  // namespace mlcc::tokenizers
