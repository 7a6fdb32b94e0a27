// The generation engine (runtime/engine.h): prefill, then one decode step per token,
// with stop tokens, stop strings held back until they are settled, and timing of the two
// phases. The model's KV cache is the conversation: the engine only appends to it.
#include "runtime/engine.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <string_view>
#include <unordered_set>

#include "runtime/error.h"
#include "runtime/model.h"
#include "runtime/sampler.h"
#include "runtime/tokenizer.h"

namespace mlcc {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Streams generated text, holding back what may still turn out to begin a stop string: a
// suffix of the pending text that is a prefix of one. Text before a complete stop string
// is released and the rest dropped.
class StopStringFilter {
 public:
  StopStringFilter(const std::vector<std::string>& stops,
                   const std::function<void(const std::string&)>& on_text)
      : on_text_(on_text) {
    for (const std::string& s : stops)
      if (!s.empty()) stops_.push_back(s);
  }

  // Adds decoded text; true when a stop string is now complete.
  bool put(const std::string& text) {
    text_ += text;
    size_t first = std::string::npos;
    for (const std::string& s : stops_) first = std::min(first, text_.find(s));
    if (first != std::string::npos) {
      emit(first);
      text_.clear();
      return true;
    }
    emit(text_.size() - held_back());
    return false;
  }
  // Everything still pending: no stop string can complete any more.
  void finish() { emit(text_.size()); }

 private:
  // The length of the longest suffix of text_ that is a proper prefix of a stop string.
  size_t held_back() const {
    size_t longest = 0;
    for (const std::string& s : stops_) {
      size_t max = std::min(s.size() - 1, text_.size());
      for (size_t len = max; len > longest; --len)
        if (std::string_view(text_).substr(text_.size() - len) ==
            std::string_view(s).substr(0, len)) {
          longest = len;
          break;
        }
    }
    return longest;
  }
  void emit(size_t count) {
    if (count == 0) return;
    if (on_text_) on_text_(text_.substr(0, count));
    text_.erase(0, count);
  }

  std::vector<std::string> stops_;
  const std::function<void(const std::string&)>& on_text_;
  std::string text_;
};

}  // namespace

double GenerationStats::prefill_tokens_per_second() const {
  return prefill_seconds > 0 ? static_cast<double>(prefill_tokens) / prefill_seconds : 0.0;
}

double GenerationStats::decode_tokens_per_second() const {
  return decode_seconds > 0 ? static_cast<double>(decode_tokens) / decode_seconds : 0.0;
}

Engine::Engine(Model& model, const Tokenizer* tokenizer) : model_(model), tokenizer_(tokenizer) {}

void Engine::reset() {
  history_.clear();
  pending_ = -1;
}

std::vector<int32_t> Engine::generate(const std::vector<int32_t>& prompt,
                                      const GenerationConfig& config,
                                      const std::function<void(const std::string&)>& on_text) {
  if (prompt.empty()) throw Error("generate: the prompt has no tokens");
  Sampler sampler(config.sampling);
  // The engine's own record of the sequence is valid only while the KV cache holds exactly
  // what the engine put there; after anyone else's use it starts afresh.
  if (static_cast<int64_t>(history_.size()) != model_.position()) reset();
  std::vector<int32_t> input;
  if (pending_ >= 0) input.push_back(pending_);
  input.insert(input.end(), prompt.begin(), prompt.end());

  const int64_t window = model_.manifest().context_window;
  const int64_t free = window - model_.position();
  if (static_cast<int64_t>(input.size()) > free)
    throw Error("the prompt has " + std::to_string(input.size()) +
                (input.size() == 1 ? " token" : " tokens") + " and the context window has " +
                std::to_string(free) + " free of " + std::to_string(window) +
                "; reset the conversation or shorten the prompt");
  if (config.max_new_tokens == 0 || config.max_new_tokens < -1)
    throw Error("generate: max_new_tokens is " + std::to_string(config.max_new_tokens) +
                "; expected -1 (no limit) or a number > 0");

  pending_ = -1;
  history_.insert(history_.end(), input.begin(), input.end());

  std::unordered_set<int32_t> stop_ids;
  if (!config.ignore_stops) {
    stop_ids.insert(config.stop_token_ids.begin(), config.stop_token_ids.end());
    if (tokenizer_ != nullptr) {
      stop_ids.insert(tokenizer_->stop_ids().begin(), tokenizer_->stop_ids().end());
      // A generated BOS starts a new document: the reply is over (llama2.c stops there too).
      if (tokenizer_->bos_id() >= 0) stop_ids.insert(tokenizer_->bos_id());
    }
  }
  const bool want_text = tokenizer_ != nullptr && (on_text || !config.stop_strings.empty());
  StopStringFilter filter(config.ignore_stops ? std::vector<std::string>{} : config.stop_strings,
                          on_text);
  std::optional<StreamingDecoder> decoder;
  // The reply continues the text of the sequence: only right after BOS does its first word
  // lose SentencePiece's leading space.
  if (want_text)
    decoder.emplace(*tokenizer_, history_.empty() || history_.back() == tokenizer_->bos_id());

  stats_ = GenerationStats{};
  stats_.prefill_tokens = static_cast<int64_t>(input.size());
  Clock::time_point start = Clock::now();
  std::vector<float> logits = model_.prefill(input);
  int32_t token = sampler.next(model_, logits, history_);
  stats_.prefill_seconds = seconds_since(start);

  std::vector<int32_t> generated;
  bool text_stopped = false;
  for (;;) {
    if (stop_ids.count(token) != 0) {
      stats_.finish_reason = "stop token";
      break;
    }
    generated.push_back(token);
    if (decoder && filter.put(decoder->put(token))) {
      text_stopped = true;
      stats_.finish_reason = "stop string";
      break;
    }
    if (config.max_new_tokens > 0 &&
        static_cast<int64_t>(generated.size()) >= config.max_new_tokens) {
      stats_.finish_reason = "max_new_tokens";
      break;
    }
    if (model_.position() >= window) {
      stats_.finish_reason = "context window full";
      break;
    }
    start = Clock::now();
    logits = model_.decode(token);
    history_.push_back(token);
    token = sampler.next(model_, logits, history_);
    stats_.decode_seconds += seconds_since(start);
    ++stats_.decode_tokens;
  }
  if (decoder && !text_stopped && !filter.put(decoder->flush())) filter.finish();
  // A reply cut short keeps its last token, which no decode step has put into the KV cache
  // yet: the next turn starts with it, so that the cache holds the whole reply.
  pending_ = -1;
  if (!generated.empty() && stats_.finish_reason == "max_new_tokens") pending_ = generated.back();
  return generated;
}

}  // namespace mlcc
