// Normalizers and pre-tokenizers of Hugging Face tokenizer.json files
// (runtime/tokenizers/hf_pretokenizer.h), as the `tokenizers` library applies them.
#include "runtime/tokenizers/hf_pretokenizer.h"

#include <algorithm>
#include <optional>

#include "runtime/error.h"
#include "runtime/tokenizers/byte_level.h"

namespace mlcc::tokenizers {

using nlohmann::json;

struct HfTextPipeline::Step {
  enum Kind { kPrepend, kReplace, kSplit, kByteLevel, kMetaspace } kind = kSplit;
  std::string text;            // Prepend's text, Metaspace's replacement ("▁")
  std::string content;         // what Replace writes
  std::optional<Regex> regex;  // Split's pattern, Replace's regex, ByteLevel's GPT-2 regex
  Behavior behavior = Behavior::kIsolated;
  bool invert = false;                                // Split
  bool add_prefix_space = false;                      // ByteLevel
  bool split = false;                                 // Metaspace
  enum { kNever, kFirst, kAlways } prepend = kNever;  // Metaspace
};

namespace {

using Step = HfTextPipeline::Step;
using Behavior = HfTextPipeline::Behavior;

[[noreturn]] void fail(const std::string& file, const std::string& field, const std::string& what) {
  throw Error("tokenizer.json " + file + ": " + field + " " + what);
}

// A literal as a PCRE2 pattern.
std::string quote(const std::string& s) {
  std::string out = "\\Q";
  for (size_t pos = 0, next; pos <= s.size(); pos = next + 2) {
    next = s.find("\\E", pos);
    if (next == std::string::npos) {
      out += s.substr(pos);
      break;
    }
    out += s.substr(pos, next - pos) + "\\E\\\\E\\Q";
  }
  return out + "\\E";
}

// {"String": s} or {"Regex": r} as a regex.
Regex pattern_of(const json& j, const std::string& file, const std::string& field) {
  if (j.is_object() && j.contains("String") && j["String"].is_string()) {
    return Regex(quote(j["String"].get<std::string>()));
  }
  if (j.is_object() && j.contains("Regex") && j["Regex"].is_string()) {
    try {
      return Regex(j["Regex"].get<std::string>());
    } catch (const Error& e) {
      fail(file, field + ".Regex", std::string("does not compile: ") + e.what());
    }
  }
  fail(file, field, "must be {\"String\": ...} or {\"Regex\": ...}");
}

std::string type_of(const json& j, const std::string& file, const std::string& field) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    fail(file, field, "must be an object with a string \"type\"");
  return j["type"].get<std::string>();
}

bool flag(const json& j, const char* key, bool fallback, const std::string& file,
          const std::string& field) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_boolean()) fail(file, field + "." + key, "must be true or false");
  return j[key].get<bool>();
}

void parse_normalizer(const json& j, const std::string& file, const std::string& field,
                      std::vector<std::unique_ptr<Step>>& out) {
  if (j.is_null()) return;
  std::string type = type_of(j, file, field);
  if (type == "Sequence") {
    if (!j.contains("normalizers") || !j["normalizers"].is_array())
      fail(file, field + ".normalizers", "must be an array");
    for (size_t i = 0; i < j["normalizers"].size(); ++i)
      parse_normalizer(j["normalizers"][i], file, field + ".normalizers[" + std::to_string(i) + "]",
                       out);
  } else if (type == "Prepend") {
    if (!j.contains("prepend") || !j["prepend"].is_string())
      fail(file, field + ".prepend", "must be a string");
    auto s = std::make_unique<Step>();
    s->kind = Step::kPrepend;
    s->text = j["prepend"].get<std::string>();
    out.push_back(std::move(s));
  } else if (type == "Replace") {
    if (!j.contains("content") || !j["content"].is_string())
      fail(file, field + ".content", "must be a string");
    auto s = std::make_unique<Step>();
    s->kind = Step::kReplace;
    s->regex.emplace(pattern_of(j.value("pattern", json()), file, field + ".pattern"));
    s->content = j["content"].get<std::string>();
    out.push_back(std::move(s));
  } else if (type != "NFC") {
    // NFC is taken as a no-op: it changes only text that is not already composed, which
    // is rare in prompts; mlcc has no Unicode normalization tables.
    fail(file, field + ".type",
         "is \"" + type + "\"; mlcc supports Sequence, Prepend, Replace and NFC normalizers");
  }
}

void parse_pre_tokenizer(const json& j, const std::string& file, const std::string& field,
                         std::vector<std::unique_ptr<Step>>& out, bool& byte_level,
                         bool& metaspace) {
  if (j.is_null()) return;
  std::string type = type_of(j, file, field);
  auto s = std::make_unique<Step>();
  if (type == "Sequence") {
    if (!j.contains("pretokenizers") || !j["pretokenizers"].is_array())
      fail(file, field + ".pretokenizers", "must be an array");
    for (size_t i = 0; i < j["pretokenizers"].size(); ++i)
      parse_pre_tokenizer(j["pretokenizers"][i], file,
                          field + ".pretokenizers[" + std::to_string(i) + "]", out, byte_level,
                          metaspace);
    return;
  } else if (type == "Split") {
    s->kind = Step::kSplit;
    if (!j.contains("pattern")) fail(file, field + ".pattern", "is missing");
    s->regex.emplace(pattern_of(j["pattern"], file, field + ".pattern"));
    static const std::pair<const char*, Behavior> kBehaviors[] = {
        {"Isolated", Behavior::kIsolated},
        {"Removed", Behavior::kRemoved},
        {"MergedWithPrevious", Behavior::kMergedWithPrevious},
        {"MergedWithNext", Behavior::kMergedWithNext},
        {"Contiguous", Behavior::kContiguous}};
    std::string b = j.value("behavior", "Isolated");
    auto it = std::find_if(std::begin(kBehaviors), std::end(kBehaviors),
                           [&](const auto& e) { return b == e.first; });
    if (it == std::end(kBehaviors))
      fail(file, field + ".behavior",
           "is \"" + b +
               "\"; expected Isolated, Removed, MergedWithPrevious, MergedWithNext or Contiguous");
    s->behavior = it->second;
    s->invert = flag(j, "invert", false, file, field);
  } else if (type == "ByteLevel") {
    s->kind = Step::kByteLevel;
    s->add_prefix_space = flag(j, "add_prefix_space", false, file, field);
    if (flag(j, "use_regex", true, file, field)) s->regex.emplace(kGpt2Pattern);
    byte_level = true;
  } else if (type == "Metaspace") {
    s->kind = Step::kMetaspace;
    s->text = j.value("replacement", "\xe2\x96\x81");
    s->split = flag(j, "split", true, file, field);
    // Older files say add_prefix_space; newer ones prepend_scheme.
    s->prepend = flag(j, "add_prefix_space", true, file, field) ? Step::kAlways : Step::kNever;
    if (j.contains("prepend_scheme")) {
      std::string scheme =
          j["prepend_scheme"].is_string() ? j["prepend_scheme"].get<std::string>() : "";
      if (scheme == "always")
        s->prepend = Step::kAlways;
      else if (scheme == "first")
        s->prepend = Step::kFirst;
      else if (scheme == "never")
        s->prepend = Step::kNever;
      else
        fail(file, field + ".prepend_scheme", "must be \"always\", \"first\" or \"never\"");
    }
    if (s->split) s->regex.emplace(quote(s->text));
    metaspace = true;
  } else if (type == "Digits") {
    s->kind = Step::kSplit;
    s->regex.emplace(flag(j, "individual_digits", false, file, field) ? "\\p{N}" : "\\p{N}+");
  } else {
    fail(file, field + ".type",
         "is \"" + type +
             "\"; mlcc supports Sequence, Split, ByteLevel, Metaspace and Digits pre-tokenizers");
  }
  out.push_back(std::move(s));
}

// Cuts `text` at the matches of `re` and joins the parts as `behavior` says.
void split_into(std::string_view text, const Regex& re, Behavior behavior, bool invert,
                std::vector<std::string>& out) {
  struct Part {
    std::string_view text;
    bool match;
  };
  std::vector<Part> parts;
  size_t last = 0;
  for (const Regex::Match& m : re.find_all(text)) {
    if (m.begin > last) parts.push_back({text.substr(last, m.begin - last), invert});
    parts.push_back({text.substr(m.begin, m.end - m.begin), !invert});
    last = m.end;
  }
  if (last < text.size()) parts.push_back({text.substr(last), invert});

  const size_t first = out.size();  // what came before belongs to other pieces
  std::string pending;              // MergedWithNext: a delimiter waiting for what follows it
  bool prev_match = false;
  for (const Part& p : parts) {
    switch (behavior) {
      case Behavior::kIsolated:
        out.emplace_back(p.text);
        break;
      case Behavior::kRemoved:
        if (!p.match) out.emplace_back(p.text);
        break;
      case Behavior::kMergedWithPrevious:
        if (p.match && out.size() > first && !prev_match)
          out.back() += p.text;
        else
          out.emplace_back(p.text);
        break;
      case Behavior::kMergedWithNext:
        if (p.match) {
          if (!pending.empty()) out.push_back(std::move(pending));
          pending = std::string(p.text);
        } else {
          out.push_back(pending + std::string(p.text));
          pending.clear();
        }
        break;
      case Behavior::kContiguous:
        if (p.match && prev_match)
          out.back() += p.text;
        else
          out.emplace_back(p.text);
        break;
    }
    prev_match = p.match;
  }
  if (!pending.empty()) out.push_back(std::move(pending));
}

std::string replace_all(std::string_view s, const Regex& re, const std::string& content) {
  std::string out;
  size_t last = 0;
  for (const Regex::Match& m : re.find_all(s)) {
    out.append(s.substr(last, m.begin - last));
    out += content;
    last = m.end;
  }
  out.append(s.substr(last));
  return out;
}

}  // namespace

HfTextPipeline::HfTextPipeline(const json& normalizer, const json& pre_tokenizer,
                               const std::string& file) {
  parse_normalizer(normalizer, file, "normalizer", normalizers_);
  parse_pre_tokenizer(pre_tokenizer, file, "pre_tokenizer", pre_tokenizers_, byte_level_,
                      metaspace_);
}

HfTextPipeline::~HfTextPipeline() = default;

std::vector<std::string> HfTextPipeline::words(std::string_view text, bool first) const {
  std::string s(text);
  for (const auto& n : normalizers_) {
    if (s.empty()) break;  // Prepend leaves empty text empty
    if (n->kind == Step::kPrepend)
      s = n->text + s;
    else
      s = replace_all(s, *n->regex, n->content);
  }
  if (s.empty()) return {};
  std::vector<std::string> pieces{std::move(s)}, next;
  for (const auto& p : pre_tokenizers_) {
    next.clear();
    for (size_t i = 0; i < pieces.size(); ++i) {
      std::string& piece = pieces[i];
      switch (p->kind) {
        case Step::kSplit:
          split_into(piece, *p->regex, p->behavior, p->invert, next);
          break;
        case Step::kByteLevel: {
          if (p->add_prefix_space && !piece.starts_with(' ')) piece = " " + piece;
          std::vector<std::string_view> parts{piece};
          if (p->regex) parts = p->regex->split(piece);
          for (std::string_view part : parts) next.push_back(byte_level_encode(part));
          break;
        }
        case Step::kMetaspace: {
          std::string m;
          for (char c : piece) {
            if (c == ' ')
              m += p->text;
            else
              m += c;
          }
          bool prepend =
              p->prepend == Step::kAlways || (p->prepend == Step::kFirst && first && i == 0);
          if (prepend && !m.starts_with(p->text)) m = p->text + m;
          if (!p->split) {
            next.push_back(std::move(m));
            break;
          }
          split_into(m, *p->regex, Behavior::kMergedWithNext, false, next);
          break;
        }
        default:
          MLCC_CHECK(false, "a normalizer step among the pre-tokenizers");
      }
    }
    pieces.swap(next);
  }
  std::erase_if(pieces, [](const std::string& w) { return w.empty(); });
  return pieces;
}

}  // namespace mlcc::tokenizers
