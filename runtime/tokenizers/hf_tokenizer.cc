// A Hugging Face tokenizer.json with a BPE model: byte-level vocabularies (GPT-2, Llama 3,
// Qwen2) and SentencePiece-style ones with byte fallback (Llama 2's tokenizer.json). Added
// tokens are matched in the raw text first; the rest goes through the normalizer and the
// pre-tokenizer (hf_pretokenizer.cc) and then BPE. BOS and EOS come from
// tokenizer_config.json beside the file, or else from well-known added tokens.
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "runtime/error.h"
#include "runtime/tokenizers/bpe.h"
#include "runtime/tokenizers/byte_level.h"
#include "runtime/tokenizers/hf_pretokenizer.h"
#include "runtime/tokenizers/vocab_tokenizer.h"

namespace mlcc::tokenizers {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// Calls f on a decoder and, through Sequences, on each decoder inside it.
template <class F>
void for_each_decoder(const json& j, F&& f) {
  if (!j.is_object()) return;
  f(j);
  if (j.contains("decoders") && j["decoders"].is_array())
    for (const json& d : j["decoders"]) for_each_decoder(d, f);
}

// A token named in tokenizer_config.json: "<s>", {"content": "<s>", ...} or null.
std::optional<std::string> config_token(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("content") && j["content"].is_string())
    return j["content"].get<std::string>();
  return std::nullopt;
}

class HfTokenizer : public VocabTokenizer {
 public:
  explicit HfTokenizer(const std::string& path) : VocabTokenizer(path) {
    try {
      load(path);
    } catch (const json::exception& e) {  // a field of an unexpected JSON type
      throw Error("tokenizer.json " + path + ": " + e.what());
    }
  }

  std::string kind() const override { return "huggingface-bpe"; }

  std::vector<int32_t> encode(const std::string& text, bool add_bos) const override {
    std::vector<int32_t> out;
    if (add_bos && bos_id_ >= 0) out.push_back(bos_id_);
    for (const SpecialTokenMatcher::Segment& s : special_.split(text)) {
      if (s.id >= 0) {
        out.push_back(s.id);
        continue;
      }
      for (const std::string& w : pipeline_->words(s.text, s.text.data() == text.data()))
        bpe_->encode(w, out);
    }
    return out;
  }

 private:
  void load(const std::string& path) {
    json doc;
    try {
      doc = json::parse(read_file(path));
    } catch (const json::parse_error& e) {
      throw Error("tokenizer.json " + path + " is not valid JSON: " + e.what());
    }
    if (!doc.is_object() || !doc.contains("model") || !doc["model"].is_object())
      fail("model", "is missing; expected the tokenizer model object");
    const json& model = doc["model"];
    std::string type = model.value("type", "BPE");
    if (type != "BPE")
      fail("model.type", "is \"" + type + "\"; mlcc reads BPE models (not WordPiece, Unigram)");
    for (const char* k : {"continuing_subword_prefix", "end_of_word_suffix"})
      if (model.contains(k) && !model[k].is_null() && model[k] != "")
        fail(std::string("model.") + k, "is set; mlcc's BPE has no subword prefixes or suffixes");

    load_vocab(doc);
    pipeline_ = std::make_unique<HfTextPipeline>(doc.value("normalizer", json()),
                                                 doc.value("pre_tokenizer", json()), path);
    BpeModel::Options opt;
    opt.ignore_merges = flag(model, "ignore_merges");
    opt.byte_fallback = flag(model, "byte_fallback");
    if (model.contains("unk_token") && model["unk_token"].is_string())
      opt.unk_id = find(model["unk_token"].get<std::string>());
    bpe_ = std::make_unique<BpeModel>(piece_ids_, opt);
    load_merges(model);
    set_bytes(doc, opt.byte_fallback);
    load_config(doc);
  }

  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw Error("tokenizer.json " + path_ + ": " + field + " " + what);
  }
  bool flag(const json& j, const char* key) const {
    if (!j.contains(key) || j[key].is_null()) return false;
    if (!j[key].is_boolean()) fail(std::string("model.") + key, "must be true or false");
    return j[key].get<bool>();
  }

  void load_vocab(const json& doc) {
    const json& vocab = doc["model"].value("vocab", json());
    if (!vocab.is_object() || vocab.empty())
      fail("model.vocab", "must be an object of piece: id pairs");
    std::vector<std::pair<int64_t, std::string>> entries;
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
      if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 ||
          it.value().get<int64_t>() > (1 << 24))
        fail("model.vocab[\"" + it.key() + "\"]", "must be a token id (0 .. 16777216)");
      entries.emplace_back(it.value().get<int64_t>(), it.key());
    }
    const json& added = doc.value("added_tokens", json::array());
    if (!added.is_array()) fail("added_tokens", "must be an array");
    for (size_t i = 0; i < added.size(); ++i) {
      const json& a = added[i];
      std::string field = "added_tokens[" + std::to_string(i) + "]";
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() ||
          a["id"].get<int64_t>() < 0 || a["id"].get<int64_t>() > (1 << 24))
        fail(field + ".id", "must be a token id (0 .. 16777216)");
      if (!a.contains("content") || !a["content"].is_string())
        fail(field + ".content", "must be a string");
      entries.emplace_back(a["id"].get<int64_t>(), a["content"].get<std::string>());
      added_.push_back({entries.back().second, static_cast<int32_t>(entries.back().first),
                        a.value("special", false)});
    }
    int64_t size = 0;
    for (const auto& e : entries) size = std::max(size, e.first + 1);
    std::vector<std::string> pieces(static_cast<size_t>(size));
    for (const auto& e : entries) pieces[e.first] = e.second;
    set_pieces(std::move(pieces));
    piece_ids_.erase("");  // ids the file leaves unused
    for (const Added& a : added_) special_.add(a.content, a.id);
  }

  void load_merges(const json& model) {
    const json& merges = model.value("merges", json::array());
    if (!merges.is_array()) fail("model.merges", "must be an array");
    for (size_t i = 0; i < merges.size(); ++i) {
      const json& m = merges[i];
      std::string left, right;
      if (m.is_string()) {  // "a b"
        const std::string& s = m.get_ref<const std::string&>();
        size_t space = s.find(' ');
        if (space != std::string::npos && s.find(' ', space + 1) == std::string::npos) {
          left = s.substr(0, space);
          right = s.substr(space + 1);
        }
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        left = m[0].get<std::string>();  // ["a", "b"]: parts may hold spaces
        right = m[1].get<std::string>();
      }
      if (left.empty() || right.empty() || !bpe_->add_merge(left, right))
        fail(
            "model.merges[" + std::to_string(i) + "]",
            "is " + m.dump() + "; expected \"a b\" or [\"a\", \"b\"] of two tokens of model.vocab");
    }
  }

  // What each token contributes to decoded text, as the file's decoder would produce it.
  void set_bytes(const json& doc, bool byte_fallback) {
    bool byte_level = pipeline_->byte_level(), unescape = pipeline_->metaspace();
    for_each_decoder(doc.value("decoder", json()), [&](const json& d) {
      std::string t = d.value("type", "");
      const json& pattern = d.value("pattern", json());
      if (t == "ByteLevel") byte_level = true;
      if (t == "ByteFallback") byte_fallback = true;
      if (t == "Metaspace" ||
          (t == "Replace" && pattern.is_object() && pattern.value("String", "") == kSpmSpace))
        unescape = true;
      // SentencePiece-style decoders drop the space before the first word.
      if ((t == "Strip" && d.value("start", 0) >= 1) ||
          (t == "Metaspace" && d.value("prepend_scheme", "always") != "never" &&
           d.value("add_prefix_space", true)))
        strips_leading_space_ = true;
    });
    bytes_.assign(pieces_.size(), "");
    for (size_t i = 0; i < pieces_.size(); ++i) {
      const std::string& p = pieces_[i];
      if (byte_level)
        bytes_[i] = byte_level_decode(p).value_or(p);
      else if (std::optional<char> b = byte_piece_value(p); b && byte_fallback)
        bytes_[i] = std::string(1, *b);
      else
        bytes_[i] = unescape ? replace_all(p, kSpmSpace, " ") : p;
    }
    for (const Added& a : added_) bytes_[a.id] = a.special ? "" : a.content;
  }

  void load_config(const json& doc) {
    fs::path config_path = fs::path(path_).parent_path() / "tokenizer_config.json";
    json config = json::object();
    if (fs::exists(config_path)) {
      try {
        config = json::parse(read_file(config_path.string()));
      } catch (const json::parse_error& e) {
        throw Error("tokenizer_config.json " + config_path.string() +
                    " is not valid JSON: " + e.what());
      }
    }
    auto pick = [&](const char* key, std::initializer_list<const char*> known) -> int32_t {
      if (config.is_object() && config.contains(key)) {
        std::optional<std::string> name = config_token(config[key]);
        return name ? find(*name) : -1;
      }
      for (const char* p : known)
        if (int32_t id = find(p); id >= 0) return id;
      return -1;
    };
    bos_id_ = pick("bos_token", {"<|begin_of_text|>", "<s>", "<|startoftext|>"});
    eos_id_ = pick("eos_token", {"<|end_of_text|>", "</s>", "<|endoftext|>"});
    set_stop_ids();
    if (config.is_object() && config.contains("add_bos_token") &&
        config["add_bos_token"].is_boolean()) {
      adds_bos_ = config["add_bos_token"].get<bool>();
    } else if (bos_id_ >= 0) {
      // The post-processor's template shows whether BOS starts a prompt (Llama 3's does).
      std::string post = doc.value("post_processor", json()).dump();
      adds_bos_ = post.find("\"TemplateProcessing\"") != std::string::npos &&
                  post.find(json(pieces_[bos_id_]).dump()) != std::string::npos;
    }
    adds_bos_ = adds_bos_ && bos_id_ >= 0;
  }

  struct Added {
    std::string content;
    int32_t id;
    bool special;
  };
  std::vector<Added> added_;
  SpecialTokenMatcher special_;
  std::unique_ptr<HfTextPipeline> pipeline_;
  std::unique_ptr<BpeModel> bpe_;
};

}  // namespace

std::unique_ptr<Tokenizer> open_huggingface(const std::string& path) {
  return std::make_unique<HfTokenizer>(path);
}

}  // namespace mlcc::tokenizers
