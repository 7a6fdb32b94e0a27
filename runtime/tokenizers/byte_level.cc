// GPT-2's byte <-> character table (runtime/tokenizers/byte_level.h).
#include "runtime/tokenizers/byte_level.h"

#include <array>
#include <cstdint>

namespace mlcc::tokenizers {

namespace {

struct Table {
  std::array<uint32_t, 256> code_of_byte{};  // the character standing for each byte
  std::array<int16_t, 324> byte_of_code{};   // -1 for characters outside the alphabet
  Table() {
    byte_of_code.fill(-1);
    // Printable Latin-1 stands for itself; the rest (controls, space, DEL, NBSP, soft
    // hyphen) take the code points from U+0100 on, in byte order.
    auto printable = [](int b) {
      return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    };
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      uint32_t code = printable(b) ? static_cast<uint32_t>(b) : next++;
      code_of_byte[b] = code;
      byte_of_code[code] = static_cast<int16_t>(b);
    }
  }
};

const Table& table() {
  static const Table t;
  return t;
}

}  // namespace

std::string byte_level_encode(std::string_view bytes) {
  const Table& t = table();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    uint32_t c = t.code_of_byte[b];  // < 0x800: one or two UTF-8 bytes
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

std::optional<std::string> byte_level_decode(std::string_view text) {
  const Table& t = table();
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    auto b0 = static_cast<unsigned char>(text[i]);
    uint32_t c;
    if (b0 < 0x80) {
      c = b0;
      i += 1;
    } else if ((b0 & 0xE0) == 0xC0 && i + 1 < text.size() &&
               (static_cast<unsigned char>(text[i + 1]) & 0xC0) == 0x80) {
      c = ((b0 & 0x1F) << 6) | (static_cast<unsigned char>(text[i + 1]) & 0x3F);
      i += 2;
    } else {
      return std::nullopt;  // three- and four-byte characters are outside the alphabet
    }
    if (c >= t.byte_of_code.size() || t.byte_of_code[c] < 0) return std::nullopt;
    out += static_cast<char>(t.byte_of_code[c]);
  }
  return out;
}

}  // namespace mlcc::tokenizers
