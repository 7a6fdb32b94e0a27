// Tests of the GGUF reader: llama.cpp's vocabulary-only GGUF files from ../shared, and
// files written here to show each refusal (bad magic, another version, truncation).
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "runtime/error.h"
#include "runtime/gguf.h"

using namespace mlcc;

namespace {

const std::string kVocabDir = MLCC_SOURCE_DIR "/../shared/tokenizers/vocab-tests/";

// A little-endian GGUF image built field by field.
struct Image {
  std::vector<char> bytes;
  template <typename T>
  Image& put(T v) {
    const char* p = reinterpret_cast<const char*>(&v);
    bytes.insert(bytes.end(), p, p + sizeof v);
    return *this;
  }
  Image& str(const std::string& s) {
    put<uint64_t>(s.size());
    bytes.insert(bytes.end(), s.begin(), s.end());
    return *this;
  }
  std::string write(const std::string& name) const {
    std::string path = (std::filesystem::temp_directory_path() / name).string();
    std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
    return path;
  }
};

// One string key, one u32 array key, and one F32 tensor of 2x3 (24 bytes of data).
Image small_file(uint32_t version = 3) {
  Image im;
  im.bytes = {'G', 'G', 'U', 'F'};
  im.put<uint32_t>(version).put<uint64_t>(1).put<uint64_t>(2);
  im.str("general.architecture").put<uint32_t>(8).str("llama");
  im.str("ids").put<uint32_t>(9).put<uint32_t>(4).put<uint64_t>(3);
  im.put<uint32_t>(7).put<uint32_t>(8).put<uint32_t>(9);
  im.str("w").put<uint32_t>(2).put<uint64_t>(3).put<uint64_t>(2).put<uint32_t>(0).put<uint64_t>(0);
  while (im.bytes.size() % 32) im.bytes.push_back(0);
  for (int i = 0; i < 6; ++i) im.put<float>(float(i));
  return im;
}

}  // namespace

TEST_CASE("gguf: a small file's metadata and tensor table", "[runtime][gguf]") {
  Image im = small_file();
  gguf::File f = gguf::read(im.write("mlcc_test_small.gguf"));
  CHECK(f.version == 3);
  CHECK(f.at("general.architecture") == "llama");
  CHECK(f.at("ids") == nlohmann::json::array({7, 8, 9}));
  REQUIRE(f.tensors.size() == 1);
  const gguf::TensorInfo* w = f.find("w");
  REQUIRE(w != nullptr);
  CHECK(w->dims == std::vector<int64_t>{3, 2});
  CHECK(w->elements() == 6);
  CHECK(w->bytes == 24);
  CHECK(w->offset == f.data_offset);
  CHECK(f.data_offset % 32 == 0);
  CHECK(w->offset + w->bytes == im.bytes.size());
  CHECK(f.find("absent") == nullptr);
  CHECK_THROWS_WITH(f.at("tokenizer.ggml.model"), Catch::Contains("no key 'tokenizer.ggml.model'"));
  CHECK(gguf::tensor_type_name(12) == "Q4_K");
  CHECK(gguf::tensor_type_name(8) == "Q8_0");
}

TEST_CASE("gguf: refusals name the file and the problem", "[runtime][gguf]") {
  Image im = small_file();
  Image cut = im;
  cut.bytes.resize(cut.bytes.size() - 4);
  CHECK_THROWS_WITH(gguf::read(cut.write("mlcc_test_cut.gguf")),
                    Catch::Contains("mlcc_test_cut.gguf") && Catch::Contains("truncated") &&
                        Catch::Contains("tensor 'w'"));
  Image header_only = im;
  header_only.bytes.resize(30);
  CHECK_THROWS_WITH(gguf::read(header_only.write("mlcc_test_head.gguf")),
                    Catch::Contains("truncated GGUF file"));
  Image bad = im;
  bad.bytes[0] = 'X';
  CHECK_THROWS_WITH(gguf::read(bad.write("mlcc_test_magic.gguf")), Catch::Contains("not a GGUF"));
  CHECK_THROWS_WITH(gguf::read(small_file(1).write("mlcc_test_v1.gguf")),
                    Catch::Contains("version 1") && Catch::Contains("expected 2 or 3"));
  CHECK_THROWS_WITH(gguf::read("/nonexistent/x.gguf"), Catch::Contains("no such file"));
}

TEST_CASE("gguf: llama.cpp's vocabulary files", "[runtime][gguf][shared]") {
  if (!std::filesystem::exists(kVocabDir + "ggml-vocab-llama-spm.gguf")) {
    WARN("SKIPPED: ../shared not present");
    return;
  }
  gguf::File spm = gguf::read(kVocabDir + "ggml-vocab-llama-spm.gguf");
  CHECK(spm.at("tokenizer.ggml.model") == "llama");
  CHECK(spm.at("tokenizer.ggml.tokens").size() == 32000);
  CHECK(spm.at("tokenizer.ggml.scores").size() == 32000);
  CHECK(spm.tensors.empty());
  gguf::File bpe = gguf::read(kVocabDir + "ggml-vocab-llama-bpe.gguf");
  CHECK(bpe.at("tokenizer.ggml.model") == "gpt2");
  CHECK(bpe.at("tokenizer.ggml.tokens").size() > 128000);
  CHECK(bpe.at("tokenizer.ggml.merges").size() > 100000);
}
