// The vocabulary embedded in a GGUF file (tokenizer.ggml.*), encoded as llama.cpp encodes
// it: "llama" vocabularies with llama.cpp's SentencePiece algorithm (score-ordered merges
// of characters, byte fallback to <0xXX>), "gpt2" ones as byte-level BPE with the
// pre-tokenizer regex that tokenizer.ggml.pre names.
#include <memory>
#include <optional>

#include "runtime/error.h"
#include "runtime/gguf.h"
#include "runtime/tokenizers/bpe.h"
#include "runtime/tokenizers/byte_level.h"
#include "runtime/tokenizers/vocab_tokenizer.h"

namespace mlcc::tokenizers {

namespace {

using nlohmann::json;

// llama.cpp's token types (tokenizer.ggml.token_type).
enum TokenType : int32_t {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6
};

// The pre-tokenizer regex and llama.cpp's ignore_merges for a tokenizer.ggml.pre value.
std::optional<std::pair<const char*, bool>> pre_tokenizer(const std::string& pre) {
  if (pre == "default" || pre == "gpt2") return std::pair{kGpt2Pattern, false};
  if (pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3")
    return std::pair{kLlama3Pattern, true};
  if (pre == "qwen2") return std::pair{kQwen2Pattern, false};
  return std::nullopt;
}

class GgufTokenizer : public VocabTokenizer {
 public:
  explicit GgufTokenizer(const std::string& path) : VocabTokenizer(path) {
    gguf::File f = gguf::read(path);
    // A wrong JSON type (a string where numbers belong, ...) becomes an error naming the key.
    std::string key;
    auto get = [&](const std::string& k) -> const json& {
      key = k;
      return f.at(k);
    };
    try {
      model_ = get("tokenizer.ggml.model").get<std::string>();
      if (model_ != "llama" && model_ != "gpt2")
        throw Error("GGUF " + path + ": tokenizer.ggml.model is '" + model_ +
                    "'; mlcc reads \"llama\" (SentencePiece) and \"gpt2\" (byte-level BPE)");
      set_pieces(get("tokenizer.ggml.tokens").get<std::vector<std::string>>());
      const size_t n = pieces_.size();
      if (f.metadata.contains("tokenizer.ggml.token_type")) {
        types_ = get("tokenizer.ggml.token_type").get<std::vector<int32_t>>();
      } else {  // old files: every token normal but the byte tokens
        for (const std::string& p : pieces_)
          types_.push_back(model_ == "llama" && byte_piece_value(p) ? kByte : kNormal);
      }
      if (model_ == "llama") scores_ = get("tokenizer.ggml.scores").get<std::vector<float>>();
      if (types_.size() != n || (model_ == "llama" && scores_.size() != n))
        throw Error("GGUF " + path + ": tokenizer.ggml.token_type and tokenizer.ggml.scores " +
                    "must have one entry per token (" + std::to_string(n) + ")");
      auto id_key = [&](const std::string& k, int32_t fallback) {
        return f.metadata.contains(k) ? get(k).get<int32_t>() : fallback;
      };
      bos_id_ = id_key("tokenizer.ggml.bos_token_id", -1);
      eos_id_ = id_key("tokenizer.ggml.eos_token_id", -1);
      unk_id_ = id_key("tokenizer.ggml.unknown_token_id", -1);
      int32_t eot_id = id_key("tokenizer.ggml.eot_token_id", -1);
      for (int32_t id : {bos_id_, eos_id_, unk_id_, eot_id})
        if (id >= static_cast<int32_t>(n))
          throw Error("GGUF " + path + ": a tokenizer.ggml.*_token_id is " + std::to_string(id) +
                      ", past the " + std::to_string(n) + " tokens");
      set_stop_ids(eot_id);
      if (f.metadata.contains("tokenizer.ggml.add_space_prefix"))
        add_space_prefix_ = get("tokenizer.ggml.add_space_prefix").get<bool>();

      bool adds_bos = model_ == "llama";
      if (model_ == "gpt2") load_bpe(f, get, adds_bos);
      if (f.metadata.contains("tokenizer.ggml.add_bos_token"))
        adds_bos = get("tokenizer.ggml.add_bos_token").get<bool>();
      adds_bos_ = adds_bos && bos_id_ >= 0;
    } catch (const json::exception& e) {
      throw Error("GGUF " + path + ": metadata " + key + " has the wrong type: " + e.what());
    }
    strips_leading_space_ = model_ == "llama" && add_space_prefix_;

    bytes_.resize(pieces_.size());
    for (size_t i = 0; i < pieces_.size(); ++i) {
      const std::string& p = pieces_[i];
      int32_t t = types_[i];
      if (t == kControl || t == kUserDefined) special_.add(p, static_cast<int32_t>(i));
      if (t == kControl || t == kUnused) continue;  // decodes to ""
      if (t == kUnknown) {
        bytes_[i] = "\xe2\x96\x85";  // "▅", llama.cpp's stand-in
      } else if (model_ == "gpt2") {
        bytes_[i] = byte_level_decode(p).value_or(p);
      } else if (std::optional<char> b = byte_piece_value(p); b && t == kByte) {
        bytes_[i] = std::string(1, *b);
      } else {
        bytes_[i] = replace_all(p, kSpmSpace, " ");
      }
    }
    for (int b = 0; b < 256; ++b) byte_ids_[b] = find(byte_piece(static_cast<unsigned char>(b)));
  }

  std::string kind() const override { return "gguf-" + model_; }

  std::vector<int32_t> encode(const std::string& text, bool add_bos) const override {
    std::vector<int32_t> out;
    if (add_bos && bos_id_ >= 0) out.push_back(bos_id_);
    bool after_special = true;  // llama.cpp: a space prefix at the start and after specials
    for (const SpecialTokenMatcher::Segment& s : special_.split(text)) {
      if (s.id >= 0) {
        out.push_back(s.id);
        after_special = true;
        continue;
      }
      if (model_ == "gpt2") {
        for (std::string_view word : regex_->split(s.text))
          bpe_->encode(byte_level_encode(word), out);
      } else {
        std::string t = add_space_prefix_ && after_special ? " " : "";
        encode_spm(replace_all(t.append(s.text), " ", kSpmSpace), out);
      }
      after_special = false;
    }
    return out;
  }

 private:
  template <class Get>
  void load_bpe(const gguf::File& f, Get&& get, bool& adds_bos) {
    std::string pre = "default";
    if (f.metadata.contains("tokenizer.ggml.pre"))
      pre = get("tokenizer.ggml.pre").template get<std::string>();
    auto p = pre_tokenizer(pre);
    if (!p)
      throw Error("GGUF " + path_ + ": tokenizer.ggml.pre is '" + pre +
                  "'; mlcc knows default, gpt2, llama-bpe (llama3, llama-v3) and qwen2");
    regex_.emplace(p->first);
    adds_bos = p->second;  // llama.cpp adds BOS for Llama 3 vocabularies only
    BpeModel::Options opt;
    opt.ignore_merges = p->second;
    opt.unk_id = unk_id_;
    bpe_ = std::make_unique<BpeModel>(piece_ids_, opt);
    const json& merges = get("tokenizer.ggml.merges");
    for (size_t i = 0; i < merges.size(); ++i) {
      const std::string& m = merges[i].template get_ref<const std::string&>();
      size_t space = m.find(' ', 1);  // a part may itself be a lone space
      if (space == std::string::npos || !bpe_->add_merge(std::string_view(m).substr(0, space),
                                                         std::string_view(m).substr(space + 1)))
        throw Error("GGUF " + path_ + ": tokenizer.ggml.merges[" + std::to_string(i) + "] '" + m +
                    "' is not two tokens of tokenizer.ggml.tokens separated by a space");
    }
  }

  // llama.cpp's llm_tokenizer_spm: characters merged pairwise by the score of the merged
  // piece, then any character that is no token as its <0xXX> byte tokens.
  void encode_spm(const std::string& text, std::vector<int32_t>& out) const {
    if (text.empty()) return;
    std::vector<MergeSymbol> syms = char_symbols(text);
    auto slice = [&](uint32_t b, uint32_t e) { return std::string_view(text).substr(b, e - b); };
    merge_greedy(syms, [&](const MergeSymbol& l, const MergeSymbol& r) {
      int32_t id = find(slice(l.begin, r.end));
      if (id < 0) return std::optional<MergeCandidate>();
      return std::optional<MergeCandidate>({scores_[id], id});
    });
    for (int32_t i = 0; i >= 0; i = syms[i].next) {
      const MergeSymbol& s = syms[i];
      int32_t id = s.id >= 0 ? s.id : find(slice(s.begin, s.end));
      if (id >= 0) {
        out.push_back(id);
        continue;
      }
      for (uint32_t k = s.begin; k < s.end; ++k) {
        int32_t b = byte_ids_[static_cast<unsigned char>(text[k])];
        if (b >= 0)
          out.push_back(b);
        else if (unk_id_ >= 0)
          out.push_back(unk_id_);
      }
    }
  }

  std::string model_;  // "llama" or "gpt2"
  std::vector<float> scores_;
  std::vector<int32_t> types_;
  int32_t unk_id_ = -1;
  bool add_space_prefix_ = true;
  int32_t byte_ids_[256];
  SpecialTokenMatcher special_;
  std::optional<Regex> regex_;
  std::unique_ptr<BpeModel> bpe_;
};

}  // namespace

std::unique_ptr<Tokenizer> open_gguf(const std::string& path) {
  return std::make_unique<GgufTokenizer>(path);
}

}  // namespace mlcc::tokenizers
