// `mlcc bench`: MLC-LLM's benchmark_generate from the command line. Prefills a prompt,
// runs exactly --generate-length decode steps ignoring stops (batch 1), and prints prefill and
// decode speed beside the bandwidth roof: decode reads every parameter and the KV cache
// once per token, so copy bandwidth / bytes read per token bounds decode tok/s. With
// --profile it then times a few decode steps kernel by kernel on the device.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "runtime/chat.h"
#include "runtime/error.h"
#include "runtime/model.h"
#include "runtime/tokenizer.h"
#include "tools/commands.h"

namespace mlcc::tools {
namespace {

struct BenchOptions {
  ChatOptions chat;
  std::string prompt = "Hi";
  int64_t generate_length = 512;
  int64_t prompt_length = 1;
  int64_t prefill_length = 0;
  uint64_t seed = 0;
  bool profile = false;
};

// Decode steps --profile times; the table shows their mean.
constexpr int64_t kProfileSteps = 8;

// Device-to-device copy bandwidth in GB/s, counting read and write: the median of a few
// runs of 8 copies of a 256 MiB buffer between synchronizations (one copy per
// synchronization would count a Vulkan submit and wait as lost bandwidth).
double copy_bandwidth(Device& dev) {
  const size_t bytes = size_t{256} << 20;
  constexpr int kCopies = 8;
  DeviceBuffer a(dev, bytes), b(dev, bytes);
  dev.memset(a.get(), 0x5a, bytes);
  dev.copy_device_to_device(b.get(), a.get(), bytes);  // warm-up: first touch of b
  dev.synchronize();
  std::vector<double> seconds;
  for (int i = 0; i < 5; ++i) {
    auto start = std::chrono::steady_clock::now();
    for (int c = 0; c < kCopies; ++c) dev.copy_device_to_device(b.get(), a.get(), bytes);
    dev.synchronize();
    seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  return 2.0 * kCopies * static_cast<double>(bytes) / seconds[seconds.size() / 2] / 1e9;
}

std::vector<int32_t> random_ids(int64_t count, int64_t vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> ids(static_cast<size_t>(count));
  for (int32_t& id : ids) id = static_cast<int32_t>(rng() % static_cast<uint64_t>(vocab));
  return ids;
}

std::string bytes_text(int64_t bytes) {
  char buf[32];
  const double b = static_cast<double>(bytes);
  if (b >= 1024.0 * 1024 * 1024)
    std::snprintf(buf, sizeof buf, "%.2f GiB", b / (1024.0 * 1024 * 1024));
  else
    std::snprintf(buf, sizeof buf, "%.1f MiB", b / (1024.0 * 1024));
  return buf;
}

// --profile: kProfileSteps greedy decode steps (decode, then argmax, as the engine runs
// them) after a prefill of --prompt-length random ids, timed per kernel on the device; one
// table of a mean step, the kernels taking most time first.
void print_profile(Chat& chat, const BenchOptions& o, int64_t vocab) {
  Model& model = chat.model();
  Device& dev = model.device();
  const Manifest& m = model.manifest();
  std::printf("\n");
  if (!dev.begin_profile()) {
    std::printf(
        "profile: device %s cannot time kernels; --profile needs a cuda or rocm device or "
        "a vulkan device whose queue has timestamps\n",
        dev.name().c_str());
    return;
  }
  dev.end_profile();  // the prefill below is not part of it
  if (vocab <= 0)
    throw Error("bench: library '" + chat.model_lib() +
                "' gives no vocab_size in its model config; --profile's random prompt needs it");
  const int64_t steps = std::min(kProfileSteps, m.context_window - o.prompt_length);
  if (steps < 1)
    throw Error("bench: --profile needs room for a decode step after --prompt-length " +
                std::to_string(o.prompt_length) + ", but the library's context window is " +
                std::to_string(m.context_window));
  chat.reset();
  model.prefill(random_ids(o.prompt_length, vocab, o.seed));
  int32_t token = model.argmax();
  dev.begin_profile();
  std::vector<double> kernel_bytes;
  model.count_kernel_bytes(&kernel_bytes);
  auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < steps; ++i) {
    model.decode(token);
    token = model.argmax();
  }
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<KernelTiming> timings = dev.end_profile();
  model.count_kernel_bytes(nullptr);
  std::sort(timings.begin(), timings.end(),
            [](const KernelTiming& a, const KernelTiming& b) { return a.seconds > b.seconds; });
  double total = 0, total_bytes = 0;
  int64_t launches = 0;
  size_t width = std::strlen("kernel");
  for (const KernelTiming& t : timings) {
    total += t.seconds;
    total_bytes += kernel_bytes[t.kernel];
    launches += t.launches;
    width = std::max(width, m.kernels[t.kernel].name.size());
  }
  const auto w = static_cast<int>(width);
  const double n = static_cast<double>(steps);
  // "14" launches per step, or "1.5" where steps differ (they should not).
  auto per_step = [&](int64_t count) {
    char buf[32];
    if (count % steps == 0)
      std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(count / steps));
    else
      std::snprintf(buf, sizeof buf, "%.2f", static_cast<double>(count) / n);
    return std::string(buf);
  };
  std::printf(
      "profile: one decode step on %s, mean of %lld steps after %lld prompt tokens "
      "(GPU time per kernel; MB the kernel reads and writes, and that over its time)\n",
      dev.name().c_str(), static_cast<long long>(steps), static_cast<long long>(o.prompt_length));
  std::printf("%-*s %10s %12s %8s %10s %9s\n", w, "kernel", "launches", "us/step", "% time",
              "MB/step", "GB/s");
  auto row = [&](const std::string& name, const std::string& count, double seconds, double bytes) {
    std::printf("%-*s %10s %12.1f %7.1f%% %10.2f %9.1f\n", w, name.c_str(), count.c_str(),
                seconds / n * 1e6, total > 0 ? 100.0 * seconds / total : 0.0, bytes / n / 1e6,
                seconds > 0 ? bytes / seconds / 1e9 : 0.0);
  };
  for (const KernelTiming& t : timings)
    row(m.kernels[t.kernel].name, per_step(t.launches), t.seconds, kernel_bytes[t.kernel]);
  row("total", per_step(launches), total, total_bytes);
  // Timing each launch slows the steps a little; the gap to the kernels' sum is what the
  // host, copies and launch overheads take.
  std::printf("wall time per step while profiling: %.1f us\n", wall / n * 1e6);
}

int run_bench(const BenchOptions& o) {
  if (o.chat.model.empty() && !o.chat.random_weights)
    throw Error("bench: give --model DIR (weights and tokenizer) or --random-weights");
  if (o.generate_length < 1)
    throw Error("bench: --generate-length is " + std::to_string(o.generate_length) +
                "; expected a number > 0");
  if (o.prompt_length < 1)
    throw Error("bench: --prompt-length is " + std::to_string(o.prompt_length) +
                "; expected a number > 0");
  // Greedy, as llama.cpp's benchmark times decoding without sampling: the argmax runs on
  // the device and only the token comes back.
  ChatOptions chat_options = o.chat;
  chat_options.overrides["temperature"] = 0;
  chat_options.overrides["repetition_penalty"] = 1;
  auto opening = std::chrono::steady_clock::now();
  auto chat = Chat::open(chat_options);
  const double open_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - opening).count();
  Model& model = chat->model();
  const Manifest& m = model.manifest();
  const bool use_ids = chat->tokenizer() == nullptr;
  int64_t vocab = m.model.is_object() ? m.model.value("vocab_size", int64_t{0}) : 0;
  if (vocab <= 0 && !use_ids) vocab = chat->tokenizer()->vocab_size();
  if (vocab <= 0 && (use_ids || o.prefill_length > 0))
    throw Error("bench: library '" + chat->model_lib() +
                "' gives no vocab_size in its model config; random prompts need it");
  const int64_t window = m.context_window;
  if (use_ids && o.prompt_length + o.generate_length > window)
    throw Error("bench: --prompt-length " + std::to_string(o.prompt_length) +
                " and --generate-length " + std::to_string(o.generate_length) + " need " +
                std::to_string(o.prompt_length + o.generate_length) +
                " positions, but the library's context window is " + std::to_string(window));
  if (o.prefill_length > window)
    throw Error("bench: --prefill-length " + std::to_string(o.prefill_length) +
                " is longer than the library's context window of " + std::to_string(window));

  std::printf("library: %s (%s, %s)\n", chat->model_lib().c_str(), m.target.c_str(),
              m.quantization.c_str());
  std::printf("device: %s (library and %s weights loaded in %.1f s)\n",
              model.device().name().c_str(), o.chat.random_weights ? "random" : "converted",
              open_seconds);
  std::printf("device memory planned: %s (parameters %s, KV cache %s, activations %s)\n",
              bytes_text(m.param_bytes + m.kv_cache_bytes + m.activation_bytes).c_str(),
              bytes_text(m.param_bytes).c_str(), bytes_text(m.kv_cache_bytes).c_str(),
              bytes_text(m.activation_bytes).c_str());
  const double bandwidth = copy_bandwidth(model.device());
  std::printf("copy bandwidth: %.1f GB/s (device to device, read + write)\n", bandwidth);
  std::printf("batch 1, greedy sampling\n");
  std::fflush(stdout);

  // The first new token comes from the prefill: one more makes generate_length decode steps.
  auto generate = [&](int64_t decode_steps) {
    if (use_ids)
      chat->benchmark_generate_ids(random_ids(o.prompt_length, vocab, o.seed), decode_steps + 1);
    else
      chat->benchmark_generate(o.prompt, decode_steps + 1);
  };
  generate(std::min<int64_t>(o.generate_length, 8));  // warm-up: first launches, page faults
  generate(o.generate_length);
  const GenerationStats decode = chat->stats();

  // Bytes one decode step reads: every parameter, and the keys and values of the sequence,
  // taken at its middle.
  const KVCacheInfo& kv = m.kv_cache;
  const double kv_per_token = 2.0 *
                              static_cast<double>(kv.num_layers * kv.num_kv_heads * kv.head_dim) *
                              static_cast<double>(dtype_bytes(kv.dtype, "kv_cache.dtype"));
  const double mid =
      static_cast<double>(decode.prefill_tokens) + static_cast<double>(decode.decode_tokens) / 2.0;
  const double per_token = static_cast<double>(m.param_bytes) + kv_per_token * mid;
  const double roof = bandwidth * 1e9 / per_token;
  std::printf(
      "bytes read per decode token: %.1f MB (parameters %.1f MB, KV cache %.1f MB at "
      "position %.0f)\n\n",
      per_token / 1e6, static_cast<double>(m.param_bytes) / 1e6, kv_per_token * mid / 1e6, mid);

  std::printf("%-8s %8s %12s %16s %10s\n", "phase", "tokens", "tok/s", "roof tok/s", "of roof");
  std::printf("%-8s %8lld %12.1f\n", "prefill", static_cast<long long>(decode.prefill_tokens),
              decode.prefill_tokens_per_second());
  std::printf("%-8s %8lld %12.1f %16.1f %9.1f%%\n", "decode",
              static_cast<long long>(decode.decode_tokens), decode.decode_tokens_per_second(), roof,
              100.0 * decode.decode_tokens_per_second() / roof);

  if (o.prefill_length > 0) {
    // Twice, the second measured: the first pays for first launches at this length.
    const std::vector<int32_t> ids = random_ids(o.prefill_length, vocab, o.seed);
    for (int i = 0; i < 2; ++i) chat->benchmark_generate_ids(ids, 1);
    const GenerationStats& p = chat->stats();
    std::printf("%-8s %8lld %12.1f\n", "prefill", static_cast<long long>(p.prefill_tokens),
                p.prefill_tokens_per_second());
  }
  if (o.profile) print_profile(*chat, o, vocab);
  return 0;
}

}  // namespace

Command add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "prefill and decode speed of a compiled model beside the bandwidth roof");
  cmd->add_option("--model-lib", o->chat.model_lib, "compiled library (.so)")->required();
  cmd->add_option("--model", o->chat.model, "model directory (weights, tokenizer)");
  cmd->add_flag("--random-weights", o->chat.random_weights,
                "fill the parameters with random values instead (no model directory needed; "
                "the prompt is --prompt-length random token ids)");
  cmd->add_option("--device", o->chat.device, "auto, cpu, cuda[:N], rocm[:N] or vulkan[:N]")
      ->capture_default_str();
  cmd->add_option("--prompt", o->prompt, "prompt text (with --model)")->capture_default_str();
  cmd->add_option("--generate-length", o->generate_length, "decode steps to time")
      ->capture_default_str();
  cmd->add_option("--prompt-length", o->prompt_length, "random prompt ids with --random-weights")
      ->capture_default_str();
  cmd->add_option("--prefill-length", o->prefill_length,
                  "also time the prefill of this many random tokens (e.g. 512)");
  cmd->add_option("--seed", o->seed, "seed of the random prompt ids")->capture_default_str();
  cmd->add_flag("--profile", o->profile,
                "then time 8 decode steps kernel by kernel on the device and print one step's "
                "GPU time per kernel (launches, us, % of the step); cuda, rocm and vulkan devices");
  return {cmd, [o] { return run_bench(*o); }};
}

}  // namespace mlcc::tools
