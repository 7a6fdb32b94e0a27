// BPE over a merges table and the PCRE2 regex wrapper (runtime/tokenizers/bpe.h).
#define PCRE2_CODE_UNIT_WIDTH 8
#include "runtime/tokenizers/bpe.h"

#include <pcre2.h>

#include "runtime/error.h"

namespace mlcc::tokenizers {

size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;
}

std::vector<MergeSymbol> char_symbols(std::string_view text) {
  std::vector<MergeSymbol> syms;
  syms.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t n = std::min(utf8_length(static_cast<unsigned char>(text[i])), text.size() - i);
    MergeSymbol s;
    s.begin = static_cast<uint32_t>(i);
    s.end = static_cast<uint32_t>(i + n);
    s.prev = static_cast<int32_t>(syms.size()) - 1;
    s.next = i + n < text.size() ? static_cast<int32_t>(syms.size()) + 1 : -1;
    syms.push_back(s);
    i += n;
  }
  return syms;
}

BpeModel::BpeModel(const PieceMap& vocab, Options options) : vocab_(vocab), options_(options) {
  for (int b = 0; b < 256; ++b) byte_ids_[b] = find(byte_piece(static_cast<unsigned char>(b)));
}

bool BpeModel::add_merge(std::string_view left, std::string_view right) {
  int32_t l = find(left), r = find(right);
  int32_t merged = find(std::string(left) + std::string(right));
  if (l < 0 || r < 0 || merged < 0) return false;
  merges_.emplace(key(l, r), std::pair{static_cast<int32_t>(merges_.size()), merged});
  return true;
}

void BpeModel::encode(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (options_.ignore_merges) {
    if (int32_t id = find(word); id >= 0) {
      out.push_back(id);
      return;
    }
  }
  // Characters become symbols; one that is no token becomes its bytes or the unknown
  // token. Symbol text spans are not used by the merges here, only the ids.
  std::vector<MergeSymbol> syms;
  for (const MergeSymbol& c : char_symbols(word)) {
    auto add = [&](int32_t id) {
      MergeSymbol s = c;
      s.id = id;
      s.prev = static_cast<int32_t>(syms.size()) - 1;
      s.next = static_cast<int32_t>(syms.size()) + 1;
      syms.push_back(s);
    };
    if (int32_t id = find(word.substr(c.begin, c.end - c.begin)); id >= 0) {
      add(id);
    } else if (options_.byte_fallback) {
      for (uint32_t i = c.begin; i < c.end; ++i) {
        int32_t b = byte_ids_[static_cast<unsigned char>(word[i])];
        if (b >= 0)
          add(b);
        else if (options_.unk_id >= 0)
          add(options_.unk_id);
      }
    } else if (options_.unk_id >= 0) {
      add(options_.unk_id);
    }
  }
  if (syms.empty()) return;
  syms.back().next = -1;
  merge_greedy(syms, [&](const MergeSymbol& l, const MergeSymbol& r) {
    auto it = merges_.find(key(l.id, r.id));
    if (it == merges_.end()) return std::optional<MergeCandidate>();
    return std::optional<MergeCandidate>(
        {-static_cast<double>(it->second.first), it->second.second});
  });
  for (int32_t i = 0; i >= 0; i = syms[i].next) out.push_back(syms[i].id);
}

Regex::Regex(const std::string& pattern) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                    PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error, &offset, nullptr);
  if (!code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(error, msg, sizeof msg);
    throw Error("regex /" + pattern + "/ does not compile at offset " + std::to_string(offset) +
                ": " + reinterpret_cast<const char*>(msg));
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // an optimization: without JIT it still works
  code_ = code;
}

Regex::~Regex() {
  if (code_) pcre2_code_free(static_cast<pcre2_code*>(code_));
}

std::vector<Regex::Match> Regex::find_all(std::string_view text) const {
  auto* code = static_cast<pcre2_code*>(code_);
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
  std::vector<Match> out;
  auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  for (size_t pos = 0; pos < text.size();) {
    int rc = pcre2_match(code, subject, text.size(), pos, 0, md, nullptr);
    if (rc < 0) break;  // PCRE2_ERROR_NOMATCH, or a resource limit on absurd input
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    if (ov[1] == ov[0]) {  // an empty match: step over one character
      if (ov[0] >= text.size()) break;
      pos = ov[0] + utf8_length(static_cast<unsigned char>(text[ov[0]]));
      continue;
    }
    out.push_back({ov[0], ov[1]});
    pos = ov[1];
  }
  pcre2_match_data_free(md);
  return out;
}

std::vector<std::string_view> Regex::split(std::string_view text) const {
  std::vector<std::string_view> out;
  size_t last = 0;
  for (const Match& m : find_all(text)) {
    if (m.begin > last) out.push_back(text.substr(last, m.begin - last));
    out.push_back(text.substr(m.begin, m.end - m.begin));
    last = m.end;
  }
  if (last < text.size()) out.push_back(text.substr(last));
  return out;
}

}  // namespace mlcc::tokenizers
