// What a Hugging Face tokenizer.json does to text before its BPE model sees it: the
// normalizer (Prepend, Replace, NFC) and the pre-tokenizer (Split by regex, ByteLevel,
// Metaspace, Digits, and Sequences of them), turning a run of text into words.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/tokenizers/bpe.h"

namespace mlcc::tokenizers {

class HfTextPipeline {
 public:
  // Reads tokenizer.json's "normalizer" and "pre_tokenizer" (either may be null). Throws
  // mlcc::Error naming `file`, the field and what was expected for a kind mlcc lacks.
  HfTextPipeline(const nlohmann::json& normalizer, const nlohmann::json& pre_tokenizer,
                 const std::string& file);
  ~HfTextPipeline();

  // The words of one run of text between added tokens; `first` when it starts the text
  // (Metaspace's prepend_scheme "first").
  std::vector<std::string> words(std::string_view text, bool first) const;
  // Whether a ByteLevel pre-tokenizer writes the words in GPT-2's byte alphabet.
  bool byte_level() const { return byte_level_; }
  // Whether a Metaspace pre-tokenizer writes spaces as "▁" (SentencePiece-style models).
  bool metaspace() const { return metaspace_; }

  // Split behaviours (Hugging Face's SplitDelimiterBehavior).
  enum class Behavior { kIsolated, kRemoved, kMergedWithPrevious, kMergedWithNext, kContiguous };
  struct Step;

 private:
  std::vector<std::unique_ptr<Step>> normalizers_, pre_tokenizers_;
  bool byte_level_ = false, metaspace_ = false;
};

}  // namespace mlcc::tokenizers
