// The machinery shared by the merge-based tokenizers: greedy merging of adjacent symbols
// (by score for SentencePiece-style vocabularies, by merge rank for BPE), a BPE model over
// a merges table, and the PCRE2 regexes that split text into words before BPE.
#pragma once

#include <cstdint>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "runtime/tokenizers/vocab_tokenizer.h"

namespace mlcc::tokenizers {

// Pre-tokenizer patterns, as the models' tokenizer.json files write them.
inline constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
inline constexpr const char* kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
inline constexpr const char* kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// A run of text that is (or may become) one token.
struct MergeSymbol {
  uint32_t begin = 0, end = 0;  // the bytes it covers; begin == end once merged away
  int32_t id = -1;              // its token, or -1 while its text is no token
  bool frozen = false;          // takes part in no merge (llama2.c's byte-fallback tokens)
  int32_t prev = -1, next = -1;
};
struct MergeCandidate {
  double score;  // higher merges first
  int32_t id;    // the token of the merged text
};

// The length of the UTF-8 character starting with `lead` (1 for a stray byte).
size_t utf8_length(unsigned char lead);
// One symbol per UTF-8 character of `text`, linked in order, ids unset. As in llama.cpp, a
// lead byte takes its continuation bytes on trust, so invalid UTF-8 is cut as llama.cpp cuts it.
std::vector<MergeSymbol> char_symbols(std::string_view text);

// Repeatedly merges the adjacent pair whose candidate scores highest (the leftmost among
// equal scores) until no pair has one. `pair(left, right)` gives the candidate or nullopt.
// The surviving symbols stay linked from index 0. Each merge queues only the pairs it
// creates, so a long word costs O(n log n), not llama2.c's O(n^2) rescans, with the same
// result: the order of merges is the same.
template <class PairFn>
void merge_greedy(std::vector<MergeSymbol>& syms, PairFn&& pair) {
  struct Entry {
    double score;
    int32_t left, right;
    uint32_t left_end, right_end;  // to tell whether either side changed since queued
    int32_t id;
    bool operator<(const Entry& o) const {  // the heap's top: best score, then leftmost
      return score != o.score ? score < o.score : left > o.left;
    }
  };
  std::priority_queue<Entry> queue;
  auto push = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0 || syms[l].frozen || syms[r].frozen) return;
    if (std::optional<MergeCandidate> c = pair(syms[l], syms[r]))
      queue.push({c->score, l, r, syms[l].end, syms[r].end, c->id});
  };
  for (size_t i = 1; i < syms.size(); ++i)
    push(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));
  while (!queue.empty()) {
    Entry e = queue.top();
    queue.pop();
    MergeSymbol& l = syms[e.left];
    MergeSymbol& r = syms[e.right];
    if (l.begin == l.end || r.begin == r.end || l.next != e.right || l.end != e.left_end ||
        r.end != e.right_end)
      continue;  // stale: one side merged since
    l.end = r.end;
    l.id = e.id;
    l.next = r.next;
    if (r.next >= 0) syms[r.next].prev = e.left;
    r.begin = r.end;
    push(l.prev, e.left);
    push(e.left, l.next);
  }
}

// Byte-pair encoding of one word over a vocabulary and a ranked merges table, as Hugging
// Face's BPE model does it: characters (or their bytes as <0xXX> tokens, with
// byte_fallback) merged pairwise, lowest rank first.
class BpeModel {
 public:
  struct Options {
    bool ignore_merges = false;  // a word that is itself a token is that token (Llama 3)
    bool byte_fallback = false;  // characters not in the vocabulary as <0xXX> tokens
    int32_t unk_id = -1;         // otherwise this token, or dropped when -1
  };
  // `vocab` must outlive the model (it is the owning tokenizer's map).
  BpeModel(const PieceMap& vocab, Options options);
  // Adds the merge of rank = the number added before. False when `left`, `right` or their
  // concatenation is not a token.
  bool add_merge(std::string_view left, std::string_view right);
  void encode(std::string_view word, std::vector<int32_t>& out) const;

 private:
  int32_t find(std::string_view piece) const {
    auto it = vocab_.find(piece);
    return it == vocab_.end() ? -1 : it->second;
  }
  static uint64_t key(int32_t l, int32_t r) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32) | static_cast<uint32_t>(r);
  }
  const PieceMap& vocab_;
  Options options_;
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges_;  // -> (rank, merged id)
  int32_t byte_ids_[256];  // <0xXX> tokens, -1 where absent
};

// A compiled PCRE2 regex (UTF and Unicode properties on; invalid UTF-8 in the subject
// simply does not match).
class Regex {
 public:
  explicit Regex(const std::string& pattern);  // throws mlcc::Error with PCRE2's message
  ~Regex();
  Regex(Regex&& o) noexcept : code_(o.code_) { o.code_ = nullptr; }
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  Regex& operator=(Regex&&) = delete;

  struct Match {
    size_t begin, end;
  };
  std::vector<Match> find_all(std::string_view text) const;
  // The matches and the text between them, in order (Hugging Face's "Isolated" split).
  std::vector<std::string_view> split(std::string_view text) const;

 private:
  void* code_;  // pcre2_code_8
};

}  // namespace mlcc::tokenizers
