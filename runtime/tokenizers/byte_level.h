// GPT-2's byte-level alphabet: every byte is written as one printable Unicode character
// (bytes that are printable Latin-1 as themselves, the others as U+0100 upward), so that a
// byte-level BPE vocabulary (GPT-2, Llama 3, Qwen2) holds any byte string as text.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mlcc::tokenizers {

// The byte-level text (UTF-8) of raw bytes.
std::string byte_level_encode(std::string_view bytes);
// The raw bytes of byte-level text, or nullopt when it holds a character outside the
// alphabet (e.g. an added token written in plain text).
std::optional<std::string> byte_level_decode(std::string_view text);

}  // namespace mlcc::tokenizers
