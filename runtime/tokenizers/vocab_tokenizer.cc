// The shared pieces of the table-based tokenizers (runtime/tokenizers/vocab_tokenizer.h).
#include "runtime/tokenizers/vocab_tokenizer.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "runtime/error.h"

namespace mlcc::tokenizers {

void VocabTokenizer::set_pieces(std::vector<std::string> pieces) {
  pieces_ = std::move(pieces);
  piece_ids_.clear();
  piece_ids_.reserve(pieces_.size());
  for (size_t i = 0; i < pieces_.size(); ++i)
    piece_ids_.emplace(pieces_[i], static_cast<int32_t>(i));
}

size_t VocabTokenizer::check_id(int32_t id) const {
  if (id < 0 || id >= vocab_size()) throw_bad_id(path_, id, vocab_size());
  return static_cast<size_t>(id);
}

void VocabTokenizer::set_stop_ids(int32_t extra_id) {
  stop_ids_.clear();
  auto add = [&](int32_t id) {
    if (id >= 0 && std::find(stop_ids_.begin(), stop_ids_.end(), id) == stop_ids_.end())
      stop_ids_.push_back(id);
  };
  add(eos_id_);
  add(extra_id);
  for (const std::string& p : end_of_turn_pieces()) add(find(p));
}

void throw_bad_id(const std::string& path, int32_t id, int32_t vocab_size) {
  throw Error("token id " + std::to_string(id) + " is out of range: tokenizer " + path + " has " +
              std::to_string(vocab_size) + " tokens (ids 0.." + std::to_string(vocab_size - 1) +
              ")");
}

const std::vector<std::string>& end_of_turn_pieces() {
  static const std::vector<std::string> kPieces = {"<|eot_id|>", "<|eom_id|>",    "<|im_end|>",
                                                   "<|end|>",    "<end_of_turn>", "<|endoftext|>"};
  return kPieces;
}

void SpecialTokenMatcher::add(const std::string& piece, int32_t id) {
  if (piece.empty()) return;
  auto& bucket = by_first_[static_cast<unsigned char>(piece[0])];
  auto pos = std::find_if(bucket.begin(), bucket.end(),
                          [&](const auto& e) { return e.first.size() < piece.size(); });
  bucket.insert(pos, {piece, id});
  ++count_;
}

std::vector<SpecialTokenMatcher::Segment> SpecialTokenMatcher::split(std::string_view text) const {
  std::vector<Segment> out;
  size_t start = 0;  // of the raw text not yet emitted
  for (size_t i = 0; i < text.size();) {
    const auto& bucket = by_first_[static_cast<unsigned char>(text[i])];
    auto hit = std::find_if(bucket.begin(), bucket.end(),
                            [&](const auto& e) { return text.substr(i).starts_with(e.first); });
    if (hit == bucket.end()) {
      ++i;
      continue;
    }
    if (i > start) out.push_back({text.substr(start, i - start), -1});
    out.push_back({text.substr(i, hit->first.size()), hit->second});
    i += hit->first.size();
    start = i;
  }
  if (start < text.size()) out.push_back({text.substr(start), -1});
  return out;
}

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  for (size_t pos = 0;;) {
    size_t hit = s.find(from, pos);
    out.append(s.substr(pos, hit - pos));
    if (hit == std::string_view::npos) return out;
    out.append(to);
    pos = hit + from.size();
  }
}

std::string byte_piece(unsigned char byte) {
  char name[8];
  std::snprintf(name, sizeof name, "<0x%02X>", byte);
  return name;
}

std::optional<char> byte_piece_value(std::string_view piece) {
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (piece.size() != 6 || !piece.starts_with("<0x") || piece[5] != '>' || hex(piece[3]) < 0 ||
      hex(piece[4]) < 0)
    return std::nullopt;
  return static_cast<char>(hex(piece[3]) * 16 + hex(piece[4]));
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("tokenizer " + path + ": cannot open the file");
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) throw Error("tokenizer " + path + ": cannot read the file");
  return s.str();
}

}  // namespace mlcc::tokenizers
