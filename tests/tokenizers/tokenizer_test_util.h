// Helpers of the tokenizer tests: where ../shared is, llama.cpp's test vectors, temporary
// directories, and printing id lists in failure messages.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/tokenizers/byte_level.h"
#include "tests/temp_dir.h"

namespace mlcc::test {

inline std::string shared_dir() { return MLCC_SOURCE_DIR "/../shared"; }
inline bool have_shared() { return std::filesystem::exists(shared_dir() + "/tokenizers"); }

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// llama.cpp's vocab test vectors: the inputs of FILE.inp, each followed by the line
// "__ggml_vocab_test__" (test-tokenizer-0 splits on "\n__ggml_vocab_test__\n", so the
// newline before a separator belongs to the separator), and line i of FILE.out the
// expected ids of input i, with no BOS/EOS added.
struct Vector {
  std::string text;
  std::vector<int32_t> ids;
};
inline std::vector<Vector> read_vectors(const std::string& gguf_path) {
  std::string inp = read_text(gguf_path + ".inp");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<Vector> out;
  for (size_t pos = 0, next; (next = inp.find(sep, pos)) != std::string::npos;
       pos = next + sep.size())
    out.push_back({inp.substr(pos, next - pos), {}});
  std::ifstream exp(gguf_path + ".out");
  std::string line;
  for (size_t i = 0; i < out.size() && std::getline(exp, line); ++i) {
    std::istringstream ids(line);
    for (int32_t id; ids >> id;) out[i].ids.push_back(id);
  }
  return out;
}

inline std::string ids_text(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) {
    if (!s.empty()) s += ' ';
    s += std::to_string(id);
  }
  return s;
}

using ::mlcc::testing::TempDir;

// A small GPT-2-style byte-level tokenizer.json: ids 0..255 are the byte-level characters
// of bytes 0..255, then six merged tokens ("he", "Ġt", "Ġthe", "ll", "hell", "hello") and
// the special token <|endoftext|> (262).
inline nlohmann::json gpt2_style_json() {
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0; b < 256; ++b)
    vocab[tokenizers::byte_level_encode(std::string(1, static_cast<char>(b)))] = b;
  const char* merged[] = {"he", "\xc4\xa0t", "\xc4\xa0the", "ll", "hell", "hello"};
  for (int i = 0; i < 6; ++i) vocab[merged[i]] = 256 + i;
  return {{"added_tokens", {{{"id", 262}, {"content", "<|endoftext|>"}, {"special", true}}}},
          {"normalizer", nullptr},
          {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}}},
          {"decoder", {{"type", "ByteLevel"}}},
          {"model",
           {{"type", "BPE"},
            {"vocab", vocab},
            {"merges", {"h e", "\xc4\xa0 t", "\xc4\xa0t he", "l l", "he ll", "hell o"}}}}};
}

}  // namespace mlcc::test
