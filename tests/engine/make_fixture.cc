// engine_fixture OUTDIR: what the command-line tests of tests/engine run against — the
// tiny library (OUTDIR/tiny-q0f32-cpu.so), its model directory with random weights
// (OUTDIR/tiny) and the greedy text from BOS that the reference forward pass gives for it
// (OUTDIR/greedy.txt, with mlcc-chat's closing newline).
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "runtime/error.h"
#include "runtime/sampler.h"
#include "runtime/tokenizer.h"
#include "tests/engine/engine_test_util.h"

int main(int argc, char** argv) {
  using namespace mlcc;
  if (argc != 2) {
    std::fprintf(stderr, "usage: engine_fixture OUTDIR\n");
    return 1;
  }
  try {
    const std::string out = argv[1];
    std::filesystem::create_directories(out);
    auto tiny = testing::make_tiny_model(128, 16);
    std::filesystem::copy_file(tiny->lib, out + "/tiny-q0f32-cpu.so",
                               std::filesystem::copy_options::overwrite_existing);
    testing::write_model_dir(out + "/tiny", *tiny->model, tiny->config, tiny->weights);

    auto tok = Tokenizer::open(out + "/tiny/tokenizer.bin");
    testing::ReferenceLlama ref(tiny->config, tiny->weights);
    std::vector<float> logits = ref.step(tok->bos_id());
    std::vector<int32_t> ids;
    while (ids.size() < 16) {
      int32_t next = Sampler::argmax(logits);
      if (next == tok->eos_id()) break;
      ids.push_back(next);
      logits = ref.step(next);
    }
    std::ofstream(out + "/greedy.txt", std::ios::binary) << tok->decode(ids) << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "engine_fixture: error: %s\n", e.what());
    return 1;
  }
}
