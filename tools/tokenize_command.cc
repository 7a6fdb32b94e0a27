// `mlcc tokenize`: what a tokenizer makes of a text, or the text of token ids. The tool to
// reach for when a model answers gibberish: it shows every token with its vocabulary piece
// and the bytes it decodes to, escaped so that spaces, newlines and partial UTF-8 show.
#include <algorithm>
#include <climits>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "runtime/error.h"
#include "runtime/tokenizer.h"
#include "tools/commands.h"

namespace mlcc::tools {

namespace {

// The length of the valid UTF-8 character at s[i], or 0 when there is none.
size_t utf8_char(const std::string& s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80             ? 1
             : (c & 0xE0) == 0xC0 ? 2
             : (c & 0xF0) == 0xE0 ? 3
             : (c & 0xF8) == 0xF0 ? 4
                                  : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  return n;
}

// `s` with control characters, quotes, backslashes and invalid UTF-8 escaped C-style;
// `width` gets the number of characters shown.
std::string escape(const std::string& s, size_t* width = nullptr) {
  std::string out;
  size_t shown = 0;
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = utf8_char(s, i);
    if (n > 1) {
      out.append(s, i, n);
      shown += 1;
      i += n;
      continue;
    }
    std::string e;
    if (c == '\n')
      e = "\\n";
    else if (c == '\t')
      e = "\\t";
    else if (c == '\r')
      e = "\\r";
    else if (c == '"' || c == '\\')
      e = std::string("\\") + static_cast<char>(c);
    else if (n == 1 && c >= 0x20 && c != 0x7F)
      e = std::string(1, static_cast<char>(c));
    else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      e = buf;
    }
    out += e;
    shown += e.size();
    i += 1;
  }
  if (width) *width = shown;
  return out;
}

std::vector<int32_t> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  std::string word;
  auto flush = [&] {
    if (word.empty()) return;
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(word, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != word.size() || v < INT32_MIN || v > INT32_MAX)
      throw Error("--decode: '" + word +
                  "' is not a token id; expected ids such as \"1 15043 3186\"");
    ids.push_back(static_cast<int32_t>(v));
    word.clear();
  };
  for (char c : text) {
    if (c == ' ' || c == ',' || c == '\t' || c == '\n' || c == '[' || c == ']')
      flush();
    else
      word += c;
  }
  flush();
  return ids;
}

// One line per token: id, vocabulary piece, the bytes it decodes to, and its role.
void print_table(const Tokenizer& tok, const std::vector<int32_t>& ids) {
  size_t id_width = 1, piece_width = 5;  // columns; very long pieces overflow theirs
  std::vector<std::string> pieces;
  std::vector<size_t> widths(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    pieces.push_back(escape(tok.token_piece(ids[i]), &widths[i]));
    piece_width = std::max(piece_width, std::min<size_t>(widths[i], 24));
    id_width = std::max(id_width, std::to_string(ids[i]).size());
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    int32_t id = ids[i];
    size_t w = widths[i];
    std::string role;
    if (id == tok.bos_id())
      role = "  BOS";
    else if (id == tok.eos_id())
      role = "  EOS";
    else if (std::find(tok.stop_ids().begin(), tok.stop_ids().end(), id) != tok.stop_ids().end())
      role = "  stop";
    std::string id_text = std::to_string(id);
    std::printf("%*s%s  %s%*s  \"%s\"%s\n", static_cast<int>(id_width - id_text.size()), "",
                id_text.c_str(), pieces[i].c_str(),
                static_cast<int>(w < piece_width ? piece_width - w : 0), "",
                escape(tok.token_bytes(id)).c_str(), role.c_str());
  }
}

}  // namespace

Command add_tokenize_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "tokenize",
      "Show the token ids of a text (with each token's piece and bytes), or decode ids");
  struct Options {
    std::string tokenizer, text;
    bool add_bos = false, decode = false, ids_only = false;
  };
  auto opt = std::make_shared<Options>();
  cmd->add_option("--tokenizer", opt->tokenizer,
                  "tokenizer.model, tokenizer.json, tokenizer.bin (llama2.c), a .gguf file, or a "
                  "directory holding one")
      ->required();
  cmd->add_flag("--add-bos", opt->add_bos, "put the BOS token first (when encoding)");
  cmd->add_flag("--decode", opt->decode,
                "TEXT is token ids (\"1 15043 3186\"); print the text they decode to");
  cmd->add_flag("--ids-only", opt->ids_only, "print only the line of ids");
  cmd->add_option("TEXT", opt->text, "the text to tokenize (\"-\" reads standard input)")
      ->required();

  return {cmd, [opt] {
            std::unique_ptr<Tokenizer> tok = Tokenizer::open(opt->tokenizer);
            std::string text = opt->text;
            if (text == "-")
              text.assign(std::istreambuf_iterator<char>(std::cin),
                          std::istreambuf_iterator<char>());
            if (opt->decode) {
              std::vector<int32_t> ids = parse_ids(text);
              std::string out = tok->decode(ids);
              std::fwrite(out.data(), 1, out.size(), stdout);
              std::fputc('\n', stdout);
              return 0;
            }
            std::vector<int32_t> ids = tok->encode(text, opt->add_bos);
            std::string line;
            for (int32_t id : ids) {
              if (!line.empty()) line += ' ';
              line += std::to_string(id);
            }
            std::printf("%s\n", line.c_str());
            if (opt->ids_only) return 0;
            print_table(*tok, ids);
            std::printf("%zu tokens; %s tokenizer, %d in the vocabulary%s\n", ids.size(),
                        tok->kind().c_str(), tok->vocab_size(),
                        tok->adds_bos() && !opt->add_bos
                            ? " (this model's prompts start with BOS: --add-bos)"
                            : "");
            return 0;
          }};
}

}  // namespace mlcc::tools
