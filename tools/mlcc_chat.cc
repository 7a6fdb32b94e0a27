// mlcc-chat: chat with a converted model and its compiled library in the terminal, or
// answer one prompt (--prompt) for scripts. Only the generated text goes to stdout; loading
// messages, progress and statistics go to stderr.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <string>

#include "runtime/chat.h"
#include "runtime/conversation.h"
#include "runtime/error.h"
#include "runtime/model.h"
#include "runtime/version.h"

namespace {

const char* kHelp =
    "  /stats   speed of the last reply\n"
    "  /reset   start a new conversation\n"
    "  /help    this list\n"
    "  /exit    quit (as does end of input, Ctrl-D)\n";

void print_piece(const std::string& piece) {
  std::fwrite(piece.data(), 1, piece.size(), stdout);
  std::fflush(stdout);
}

// Weight loading progress on a terminal, rewritten in place.
void show_progress(size_t done, size_t total) {
  static int last = -1;
  int percent = total > 0 ? static_cast<int>(done * 100 / total) : 100;
  if (percent == last) return;
  last = percent;
  std::fprintf(stderr, "\rloading weights: %3d%%%s", percent, done >= total ? "\n" : "");
}

void warn_if_full(const mlcc::Chat& chat) {
  if (chat.stats().finish_reason == "context window full")
    std::fprintf(stderr,
                 "mlcc-chat: the context window is full; /reset starts a new "
                 "conversation\n");
}

int repl(mlcc::Chat& chat) {
  const bool tty = ::isatty(STDIN_FILENO) != 0;
  if (tty) std::fprintf(stderr, "Type a message, or /help.\n");
  std::string line;
  for (;;) {
    std::fputs(">>> ", stdout);
    std::fflush(stdout);
    if (!std::getline(std::cin, line)) {
      std::fputs("\n", stdout);
      return 0;
    }
    if (line == "/exit" || line == "/quit") return 0;
    if (line.empty()) continue;
    if (line == "/help") {
      std::fputs(kHelp, stdout);
    } else if (line == "/stats") {
      std::printf("%s\n", chat.stats_text(true).c_str());
    } else if (line == "/reset") {
      chat.reset();
      std::printf("(conversation reset)\n");
    } else if (line[0] == '/') {
      std::printf("unknown command '%s'; commands:\n%s", line.c_str(), kHelp);
    } else {
      try {
        chat.generate(line, print_piece);
        std::fputs("\n", stdout);
        warn_if_full(chat);
      } catch (const mlcc::Error& e) {
        // A full context window ends the reply, not the session.
        std::fprintf(stderr, "\nmlcc-chat: error: %s\n", e.what());
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "mlcc-chat: chat with a model converted by `mlcc convert-weight` and compiled by `mlcc "
      "compile`.\nWithout --prompt it is interactive (commands: /stats /reset /help /exit)."};
  app.set_version_flag("--version", mlcc::version_string());
  app.footer(
      "Examples:\n"
      "  mlcc-chat --model dist/Llama-2-7b-q4f16_1 --model-lib "
      "dist/libs/llama2-q4f16_1-cuda.so\n"
      "  mlcc-chat --model dist/stories260K --model-lib s.so --template raw --prompt \"Once\" "
      "--temperature 0 --stats");
  mlcc::ChatOptions options;
  std::string conv_template, prompt;
  float temperature = 0, top_p = 0, repetition_penalty = 0;
  int32_t top_k = 0;
  int64_t max_new_tokens = 0;
  uint64_t seed = 0;
  bool print_stats = false;
  app.add_option("--model", options.model,
                 "model directory (weights, mlcc-chat-config.json, tokenizer), or a name found "
                 "as NAME, dist/NAME or dist/prebuilt/NAME")
      ->required();
  app.add_option("--model-lib", options.model_lib,
                 "compiled library (.so); default: dist/libs/NAME-DEVICE.so and the places "
                 "MLC-LLM looks");
  app.add_option("--device", options.device, "auto, cpu, cuda[:N], rocm[:N] or vulkan[:N]")
      ->capture_default_str();
  std::string names;
  for (const std::string& n : mlcc::Conversation::names()) names += (names.empty() ? "" : ", ") + n;
  auto* template_opt =
      app.add_option("--template", conv_template,
                     "conversation template (" + names + "); default: the model's conv_template");
  auto* prompt_opt = app.add_option("--prompt", prompt,
                                    "answer this one prompt, print the reply to stdout and exit");
  auto* temperature_opt =
      app.add_option("--temperature", temperature, "0: greedy; default: the model's");
  auto* top_p_opt = app.add_option("--top-p", top_p, "nucleus sampling, 1: off");
  auto* top_k_opt = app.add_option("--top-k", top_k, "0: off");
  auto* penalty_opt = app.add_option("--repetition-penalty", repetition_penalty, "1: off");
  auto* seed_opt = app.add_option("--seed", seed, "random seed (same seed, same text)");
  auto* max_opt = app.add_option("--max-new-tokens", max_new_tokens,
                                 "-1: until a stop token or a full context window");
  app.add_flag("--stats", print_stats, "print prefill and decode speed after the reply");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "mlcc-chat: error: %s (see --help)\n", e.what());
    return 1;
  }

  try {
    if (*template_opt) options.overrides["conv_template"] = conv_template;
    if (*temperature_opt) options.overrides["temperature"] = temperature;
    if (*top_p_opt) options.overrides["top_p"] = top_p;
    if (*top_k_opt) options.overrides["top_k"] = top_k;
    if (*penalty_opt) options.overrides["repetition_penalty"] = repetition_penalty;
    if (*max_opt) options.overrides["max_new_tokens"] = max_new_tokens;
    if (::isatty(STDERR_FILENO)) options.load_progress = show_progress;

    auto chat = mlcc::Chat::open(options);
    std::fprintf(stderr, "mlcc-chat: %s with %s on %s\n", chat->model_dir().c_str(),
                 chat->model_lib().c_str(), chat->model().device().name().c_str());
    if (*seed_opt) chat->generation_config().sampling.seed = seed;

    if (!*prompt_opt) return repl(*chat);
    chat->generate(prompt, print_piece);
    std::fputs("\n", stdout);
    std::fflush(stdout);
    if (chat->stats().finish_reason == "context window full")
      std::fprintf(stderr, "mlcc-chat: the reply filled the context window\n");
    if (print_stats) std::fprintf(stderr, "%s\n", chat->stats_text().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mlcc-chat: error: %s\n", e.what());
    return 1;
  }
}
