// mlcc-chat-config.json to and from ChatConfig (runtime/chat_config.h). Reading is strict
// about types so that a hand-edited file fails with the field's name, not later with a
// wrong default.
#include "runtime/chat_config.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "runtime/error.h"

namespace mlcc {

using nlohmann::json;

namespace {

// 0.7f as 0.7 rather than 0.699999988079071 in the file people read and edit.
double tidy(float f) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.7g", static_cast<double>(f));
  return std::strtod(buf, nullptr);
}

// Reads one optional field into `out` when present (null counts as absent).
struct Reader {
  const json& j;
  const std::string& origin;

  [[noreturn]] void fail(const std::string& key, const std::string& expected) const {
    throw Error(origin + ": field '" + key + "' is " + j[key].dump() + " (expected " + expected +
                ")");
  }
  bool present(const std::string& key) const { return j.contains(key) && !j[key].is_null(); }
  void get(const std::string& key, std::string& out) const {
    if (!present(key)) return;
    if (!j[key].is_string()) fail(key, "a string");
    out = j[key].get<std::string>();
  }
  template <typename Int>
  void get_int(const std::string& key, Int& out) const {
    if (!present(key)) return;
    if (!j[key].is_number_integer()) fail(key, "an integer");
    out = j[key].get<Int>();
  }
  void get(const std::string& key, float& out) const {
    if (!present(key)) return;
    if (!j[key].is_number()) fail(key, "a number");
    out = j[key].get<float>();
  }
  void get(const std::string& key, std::vector<std::string>& out) const {
    if (!present(key)) return;
    if (!j[key].is_array()) fail(key, "a list of file names");
    out.clear();
    for (const json& v : j[key]) {
      if (!v.is_string()) fail(key, "a list of file names");
      out.push_back(v.get<std::string>());
    }
  }
};

}  // namespace

json ChatConfig::to_json() const {
  return {{"model_type", model_type},
          {"quantization", quantization},
          {"model_config", model_config},
          {"context_window_size", context_window_size},
          {"prefill_chunk_size", prefill_chunk_size},
          {"tokenizer_files", tokenizer_files},
          {"conv_template", conv_template},
          {"temperature", tidy(temperature)},
          {"top_p", tidy(top_p)},
          {"top_k", top_k},
          {"repetition_penalty", tidy(repetition_penalty)},
          {"max_new_tokens", max_new_tokens},
          {"bos_token_id", bos_token_id},
          {"eos_token_id", eos_token_id}};
}

ChatConfig ChatConfig::from_json(const json& j, const std::string& origin) {
  if (!j.is_object()) throw Error(origin + ": expected a JSON object, found a " + j.type_name());
  const Reader r{j, origin};
  ChatConfig c;
  if (!r.present("model_config"))
    throw Error(origin + ": field 'model_config' is missing (expected the model's config)");
  if (!j["model_config"].is_object()) r.fail("model_config", "an object");
  c.model_config = j["model_config"];
  if (!r.present("quantization"))
    throw Error(origin + ": field 'quantization' is missing (expected e.g. \"q4f16_1\")");
  r.get("quantization", c.quantization);
  r.get("model_type", c.model_type);
  r.get_int("context_window_size", c.context_window_size);
  r.get_int("prefill_chunk_size", c.prefill_chunk_size);
  r.get("tokenizer_files", c.tokenizer_files);
  r.get("conv_template", c.conv_template);
  r.get("temperature", c.temperature);
  r.get("top_p", c.top_p);
  r.get_int("top_k", c.top_k);
  r.get("repetition_penalty", c.repetition_penalty);
  r.get_int("max_new_tokens", c.max_new_tokens);
  r.get_int("bos_token_id", c.bos_token_id);
  r.get_int("eos_token_id", c.eos_token_id);
  return c;
}

ChatConfig ChatConfig::read(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / kChatConfigFile).string();
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error("cannot open '" + path +
                "' (expected a model directory written by mlcc convert-weight)");
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded()) throw Error(path + ": not valid JSON");
  return from_json(j, path);
}

void ChatConfig::write(const std::string& dir) const {
  const std::string path = (std::filesystem::path(dir) / kChatConfigFile).string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << to_json().dump(2) << "\n";
  out.close();
  if (!out) throw Error("cannot write '" + path + "'");
}

}  // namespace mlcc
