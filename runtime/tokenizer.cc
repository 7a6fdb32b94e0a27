// Tokenizer::open (which kind a file is), decoding, and the streaming decoder
// (runtime/tokenizer.h). The kinds themselves live in runtime/tokenizers/.
#include "runtime/tokenizer.h"

#include <filesystem>
#include <fstream>

#include "runtime/error.h"
#include "runtime/tokenizers/bpe.h"
#include "runtime/tokenizers/vocab_tokenizer.h"

namespace mlcc {

namespace {

namespace fs = std::filesystem;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The first bytes of a file (fewer when it is shorter).
std::string head_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("tokenizer " + path + ": cannot open the file");
  std::string head(16, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  return head;
}

// The kind of a file whose name does not tell.
std::unique_ptr<Tokenizer> open_by_content(const std::string& path, const std::string& head) {
  size_t first = head.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && head[first] == '{') return tokenizers::open_huggingface(path);
  // Neither has a magic number; each loader checks its format through to the end.
  for (auto* opener : {&tokenizers::open_llama2c, &tokenizers::open_sentencepiece}) {
    try {
      return opener(path);
    } catch (const Error&) {
    }
  }
  throw Error("tokenizer " + path +
              " is of no known kind: expected a SentencePiece tokenizer.model, a Hugging Face "
              "tokenizer.json, a GGUF file or a llama2.c tokenizer.bin");
}

// The text `id` adds after what came before; at_start says whether that was nothing or
// BOS, where SentencePiece-style vocabularies drop the first word's space.
std::string next_text(const Tokenizer& tok, int32_t id, bool& at_start) {
  std::string bytes = tok.token_bytes(id);  // checks the id
  if (id == tok.bos_id()) {
    at_start = true;
    return "";
  }
  if (bytes.empty()) return bytes;
  if (at_start && tok.strips_leading_space() && bytes[0] == ' ') bytes.erase(0, 1);
  at_start = false;
  return bytes;
}

// The length of the longest prefix of `s` that ends with no character cut short.
size_t complete_prefix(const std::string& s) {
  const size_t n = s.size();
  for (size_t k = 1; k <= 3 && k <= n; ++k) {
    auto c = static_cast<unsigned char>(s[n - k]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    return tokenizers::utf8_length(c) > k ? n - k : n;
  }
  return n;  // stray continuation bytes: nothing to wait for
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::open(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error("tokenizer " + path + " does not exist");
  if (fs::is_directory(path, ec)) {
    for (const char* name :
         {"tokenizer.json", "tokenizer.model", "tokenizer.gguf", "tokenizer.bin"}) {
      fs::path p = fs::path(path) / name;
      if (fs::exists(p, ec)) return open(p.string());
    }
    throw Error("tokenizer directory " + path +
                " holds none of tokenizer.json, tokenizer.model, tokenizer.gguf, tokenizer.bin");
  }
  // GGUF files have a magic number, whatever their name (models come as .bin too).
  std::string head = head_of(path);
  std::string ext = lower(fs::path(path).extension().string());
  if (head.starts_with("GGUF") || ext == ".gguf") return tokenizers::open_gguf(path);
  if (ext == ".model") return tokenizers::open_sentencepiece(path);
  if (ext == ".json") return tokenizers::open_huggingface(path);
  if (ext == ".bin") return tokenizers::open_llama2c(path);
  return open_by_content(path, head);
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  bool at_start = true;
  for (int32_t id : ids) out += next_text(*this, id, at_start);
  return out;
}

std::string StreamingDecoder::put(int32_t id) {
  pending_ += next_text(tok_, id, at_start_);
  size_t n = complete_prefix(pending_);
  std::string out = pending_.substr(0, n);
  pending_.erase(0, n);
  return out;
}

std::string StreamingDecoder::flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

void StreamingDecoder::reset() {
  pending_.clear();
  at_start_ = true;
}

}  // namespace mlcc
